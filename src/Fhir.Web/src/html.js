// One binding of htm to preact's h: every view writes html`<…>` templates (no JSX build step).
import { h } from "preact";
import htm from "htm";

export const html = htm.bind(h);
