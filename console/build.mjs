// Build the console into node/console/static/ (package data): one bundle, minified, no source maps
// (the sources are in this directory). Deterministic: the same sources and lock give the same bytes,
// which tests/unit/node/test_console_assets.py checks against the committed files.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, "..", "node", "console", "static");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "src", "app.js")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome100", "firefox100", "safari15"],
  legalComments: "eof",
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
copyFileSync(join(here, "src", "style.css"), join(out, "app.css"));
