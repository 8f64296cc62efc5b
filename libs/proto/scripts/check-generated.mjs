// Fails when libs/proto/src/gen does not match what buf generates from proto/ now,
// and when proto/ does not pass buf lint.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const committed = join(root, "libs/proto/src/gen");
const scratch = mkdtempSync(join(tmpdir(), "tiermesh-gen-"));

function files(dir) {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => relative(dir, f))
    .sort();
}

try {
  const buf = (...args) => execFileSync("npx", ["--no-install", "buf", ...args], { cwd: root, stdio: "inherit" });
  buf("lint");
  buf("generate", "--output", scratch);
  const fresh = join(scratch, "libs/proto/src/gen");
  const want = files(fresh);
  const have = files(committed);
  const stale = [
    ...want.filter((f) => !have.includes(f) || readFileSync(join(fresh, f), "utf8") !== readFileSync(join(committed, f), "utf8")),
    ...have.filter((f) => !want.includes(f)),
  ];
  if (stale.length > 0) {
    console.error(`generated code is stale (run \`npm run generate\`): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log(`generated code is up to date (${want.length} files)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
