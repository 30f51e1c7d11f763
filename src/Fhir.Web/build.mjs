// Bundles the app (src/main.js and its imports, the stylesheet) into dist/ with esbuild: one minified script, one
// stylesheet, index.html. Run by `npm run build` (and by Fhir.Server's build when dist/ is older than its sources).
import * as esbuild from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

await rm("dist", { recursive: true, force: true });
await mkdir("dist", { recursive: true });
await esbuild.build({
  entryPoints: ["src/main.js", "src/app.css"],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020"],
  platform: "browser",
  outdir: "dist",
  entryNames: "[name]",
  // fhirclient's "pure" build: modern browsers have fetch and AbortController, no polyfills bundled.
  define: { FHIRCLIENT_PURE: "true", "process.env.NODE_ENV": '"production"' },
  legalComments: "none",
  logLevel: "warning",
});
await copyFile("src/index.html", "dist/index.html");
