// Bundles src/index.js (with uPlot and the CSS) into one ES module.
// Output: ../tensorboard_plugin_scram/static/index.js, or $SCRAM_OUT, or the first argument.
// The output is deterministic and independent of the directory this runs in.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const target = process.env.SCRAM_OUT || process.argv[2] || "../tensorboard_plugin_scram/static/index.js";

const uplot = JSON.parse(readFileSync(path.join(here, "node_modules/uplot/package.json"), "utf8"));

await build({
  banner: {
    js: `/*! SCRAM TensorBoard panel (built from frontend/). Bundles uPlot ${uplot.version}, (c) Leon Sorokin, MIT License, https://github.com/leeoniya/uPlot */`,
  },
  absWorkingDir: here,
  entryPoints: ["src/index.js"],
  outfile: path.resolve(here, target),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  legalComments: "eof",
  sourcemap: false,
  loader: { ".css": "text" },
  logLevel: "warning",
});
