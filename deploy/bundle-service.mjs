// Bundles a service's compiled entry point (dist/main.js of the package in the current
// directory) with everything it imports at start into one file, dist/main.bundle.mjs (what it
// imports later, such as the tracing SDK, goes to dist/bundle-chunks/): what `tiermesh up`,
// `tiermesh run` and the deployment manifests start. One script instead of hundreds of modules
// holds less JavaScript heap (about 8 MB in an executor, 4.5 in a router: module sources, records and the code no
// request reaches), which leaves the heap room to grow between major collections (README:
// "Tail latency and the garbage collector"). Whitespace is removed; a source map is written beside
// the bundle for `node --enable-source-maps` when stack positions matter. Names are not pinned
// (esbuild's keepNames wraps every function it creates, per call, in a defineProperty: about 1%
// of a service's CPU and 3 KB per request); a name esbuild renames on a clash between modules
// gets a digit appended, which only logs and profiles show.
import { rmSync } from "node:fs";
import { build } from "esbuild";

/** Code the entry imports only on demand (the tracing SDK, for one) stays out of the bundle, in chunks loaded when needed. */
const CHUNKS = "bundle-chunks";
rmSync(`dist/${CHUNKS}`, { recursive: true, force: true });

await build({
  entryPoints: { "main.bundle": "dist/main.js" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  chunkNames: `${CHUNKS}/[name]-[hash]`,
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  // Loaded on first use only (70 MB of tables): it stays a separate require.
  external: ["gpt-tokenizer", "gpt-tokenizer/*"],
  // CommonJS dependencies inside an ES module bundle: `require` of Node's built-ins and the
  // module paths some of them read.
  banner: {
    js: [
      'import { createRequire as __tiermeshRequire } from "node:module";',
      'import { fileURLToPath as __tiermeshPath } from "node:url";',
      "const require = __tiermeshRequire(import.meta.url);",
      "const __filename = __tiermeshPath(import.meta.url);",
      'const __dirname = __tiermeshPath(new URL(".", import.meta.url));',
    ].join("\n"),
  },
  logLevel: "warning",
});
