import { defineConfig } from "vitest/config";

/** End-to-end suites that run unchanged against the one-process mode (the others stop single services). */
const oneProcessSuites = [
  "batch-api",
  "canary-probes",
  "drill",
  "fault-drill",
  "http-edge",
  "http-edge-openai",
  "hung-provider",
  "context-routing",
  "mesh",
  "probe-discipline",
  "recovery-return",
  "stream-faults",
  "tier-console",
  "tracing",
  "usage-ledger",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end suites spawn whole meshes; keep them from competing for two cores.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: { name: "mesh", include: ["libs/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "one-process",
          include: oneProcessSuites.map((s) => `test/e2e/${s}.test.ts`),
          env: { TIERMESH_TEST_MESH: "one-process" },
        },
      },
    ],
  },
});
