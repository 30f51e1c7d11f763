// The language: Chinese first, English switchable (kept in localStorage). One messages file per language.
import { signal } from "./state.js";
import zh from "./messages/zh-CN.js";
import en from "./messages/en.js";

const catalogs = { "zh-CN": zh, en };
export const languages = [["zh-CN", "中文"], ["en", "English"]];
export const language = signal(localStorage.getItem("lang") in catalogs ? localStorage.getItem("lang") : "zh-CN");

export function setLanguage(lang) {
  localStorage.setItem("lang", lang);
  document.documentElement.lang = lang;
  language.set(lang);
}

/** The message for a key in the current language ({name} placeholders filled from args); the key itself if missing. */
export function t(key, args = {}) {
  const text = catalogs[language.get()][key] ?? catalogs["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(args[k] ?? ""));
}

document.documentElement.lang = language.get();
