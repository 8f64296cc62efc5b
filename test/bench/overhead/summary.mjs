// Folds the runs at one rate into medians and decides whether to try a higher rate.

export const median = (xs) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Processes that are not the mesh: the provider and the load generator. */
export const outsideMesh = new Set(["simulator", "load-generator"]);

/** Below this share of the target rate, a rate counts as not sustained. */
export const SUSTAINED = 0.9;

export function summarise(rate, runs) {
  const names = Object.keys(runs[0].cpuMsPerRequest);
  const meshCpu = runs.map((r) => names.filter((n) => !outsideMesh.has(n)).reduce((sum, n) => sum + r.cpuMsPerRequest[n], 0));
  const errorKinds = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  const row = {
    target: rate,
    achieved: median(runs.map((r) => r.achieved)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    requests: runs.reduce((sum, r) => sum + r.requests, 0),
    errorKinds,
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    p999: median(runs.map((r) => r.p999)),
    maxSendLagMs: Math.max(...runs.map((r) => r.maxSendLagMs)),
    cpuMsPerRequest: Object.fromEntries(names.map((n) => [n, median(runs.map((r) => r.cpuMsPerRequest[n]))])),
    meshCpuMsPerRequest: names.some((n) => !outsideMesh.has(n)) ? median(meshCpu) : NaN,
    stopped: undefined,
    runs,
  };
  if (row.errors > 0) row.stopped = `${row.errors} errors`;
  else if (row.achieved < SUSTAINED * rate) row.stopped = `achieved ${row.achieved.toFixed(0)} < ${SUSTAINED * 100}% of target`;
  return row;
}
