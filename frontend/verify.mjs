// Rebuilds the bundle into a temporary file and checks it equals the committed one.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const committed = path.resolve(here, "../tensorboard_plugin_scram/static/index.js");
const dir = mkdtempSync(path.join(os.tmpdir(), "scram-bundle-"));
const fresh = path.join(dir, "index.js");
try {
  execFileSync(process.execPath, [path.join(here, "build.mjs"), fresh], { stdio: "inherit" });
  if (!readFileSync(fresh).equals(readFileSync(committed))) {
    console.error(`${committed} is stale: run \`npm run build\` in frontend/ and commit the result.`);
    process.exit(1);
  }
  console.log("bundle is up to date");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
