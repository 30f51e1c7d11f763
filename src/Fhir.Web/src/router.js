// Hash routes (#/home, #/record/zhang-wei): the page is always /app/, so a reload keeps the SMART session and the screen.
import { signal } from "./state.js";

export const route = signal(currentRoute());

function currentRoute() {
  return window.location.hash.replace(/^#/, "") || "/";
}

window.addEventListener("hashchange", () => route.set(currentRoute()));

export function go(path) {
  window.location.hash = path;
}
