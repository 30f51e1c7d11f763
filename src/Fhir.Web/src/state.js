// A tiny observable value: views subscribe through useSignal and re-render when it changes.
import { useEffect, useState } from "preact/hooks";

export function signal(value) {
  const listeners = new Set();
  return {
    get: () => value,
    set(next) { value = next; for (const l of [...listeners]) l(value); },
    subscribe(l) { listeners.add(l); return () => listeners.delete(l); },
  };
}

export function useSignal(s) {
  const [, force] = useState(0);
  useEffect(() => s.subscribe(() => force(n => n + 1)), [s]);
  return s.get();
}
