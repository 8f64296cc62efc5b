import { renderHopFloor } from "./hop-floor.mjs";
// The markdown report: targets with PASS/MISS, latency per mode and rate, CPU and memory per process.
import { outsideMesh } from "./summary.mjs";

const f = (x, digits = 2) => (x == null || Number.isNaN(x) ? "—" : x.toFixed(digits));
const table = (head, rows) =>
  [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");

const find = (results, mode, path = "edge") => results.modes.find((m) => m.mode === mode && m.path === path);
const rowAt = (m, rate) => m?.rates.find((r) => r.target === rate);

/** mode's figure minus the provider's at the same rate in this run. */
export function added(results, m, row, key) {
  const base = rowAt(find(results, "provider"), row.target);
  return m.mode === "provider" || !base ? NaN : row[key] - base[key];
}

/** Mesh CPU per request at 500 req/s, or at the highest rate below it that was measured. */
function cpuFigure(m) {
  const rows = m?.rates.filter((r) => r.target <= 500) ?? [];
  const row = rowAt(m, 500) ?? rows.at(-1);
  return row ? { value: row.meshCpuMsPerRequest, at: `ms @ ${row.target} req/s` } : undefined;
}

function addedAt(results, mode, rate, key) {
  const m = find(results, mode);
  const row = rowAt(m, rate);
  if (row) return { value: added(results, m, row, key), at: "ms" };
  const last = m?.rates.at(-1);
  return last?.stopped && last.target < rate ? { value: NaN, gaveWayAt: last.target } : undefined;
}

/**
 * An open-loop window's achieved rate counts its last requests' completion in the elapsed time,
 * so a rate held in full reads a fraction under the offered one (the provider alone: 1,499.8 of
 * 1,500): within this share of the offered rate, the offered rate counts as achieved.
 */
const HELD = 0.995;

/** Highest rate achieved with no errors; undecided when the sweep ended before the mode gave way. */
function throughput(m, goal) {
  if (!m) return undefined;
  const clean = m.rates.filter((r) => r.errors === 0).map((r) => (r.achieved >= r.target * HELD ? r.target : r.achieved));
  const best = clean.length ? Math.max(...clean) : 0;
  const gaveWay = m.rates.some((r) => r.stopped);
  return { value: best, digits: 0, at: "req/s", undecided: best < goal && !gaveWay };
}

/** The largest RSS among `names` after the soak (a minute at 300 req/s by default), else over the whole run. */
function peakRss(m, names) {
  if (!m) return undefined;
  const soaked = Object.keys(m.soakRssMb ?? {}).length > 0;
  const entries = Object.entries(soaked ? m.soakRssMb : m.peakRssMb).filter(([n]) => names(n));
  if (!entries.length) return undefined;
  const [name, value] = entries.reduce((a, b) => (b[1] > a[1] ? b : a));
  return { value, digits: 0, at: `MB (${name})` };
}

export function evaluateTargets(results) {
  const multi = find(results, "multi-process");
  const one = find(results, "one-process");
  const isService = (n) => !outsideMesh.has(n) && n !== "nats-server";
  const list = [
    ["multi-process", "CPU per request, mesh processes summed", "≤ 2.0 ms", cpuFigure(multi), (v) => v <= 2.0],
    ["multi-process", "added p99 at 200 req/s", "≤ 15 ms", addedAt(results, "multi-process", 200, "p99"), (v) => v <= 15],
    ["multi-process", "throughput with no errors", "≥ 800 req/s", throughput(multi, 800), (v) => v >= 800],
    ["multi-process", "RSS of every service", "≤ 120 MB", peakRss(multi, isService), (v) => v <= 120],
    ["one-process", "CPU per request, mesh processes summed", "≤ 1.0 ms", cpuFigure(one), (v) => v <= 1.0],
    ["one-process", "added p50 at 500 req/s", "≤ 1 ms", addedAt(results, "one-process", 500, "p50"), (v) => v <= 1],
    ["one-process", "added p99 at 500 req/s", "≤ 5 ms", addedAt(results, "one-process", 500, "p99"), (v) => v <= 5],
    ["one-process", "throughput with no errors", "≥ 1,500 req/s", throughput(one, 1_500), (v) => v >= 1_500],
    ["one-process", "RSS of the mesh process", "≤ 150 MB", peakRss(one, isService), (v) => v <= 150],
  ];
  return list.map(([mode, what, goal, fig, ok]) => {
    const measured = fig !== undefined && !Number.isNaN(fig.value);
    let verdict = !measured ? "not measured" : fig.undecided ? "n/a (the sweep ended first)" : ok(fig.value) ? "PASS" : "MISS";
    if (fig?.gaveWayAt) verdict = `MISS (gave way at ${fig.gaveWayAt} req/s)`;
    return { mode, what, goal, value: measured ? fig.value : null, digits: fig?.digits ?? 2, unit: fig?.at ?? "", verdict };
  });
}

export function renderMarkdown(results, targets) {
  const { meta } = results;
  const out = [
    `# tiermesh overhead benchmark, ${meta.date}`,
    "",
    `${meta.cpus} × ${meta.cpuModel}, Node ${meta.node}, load average at start ${meta.loadAverage}. ` +
      `\`${meta.command}\`: rates ${meta.rates.join(", ")} req/s, ${meta.seconds} s per window, median of ${meta.runs} run(s), ` +
      `${meta.warmupSeconds} s warm-up per mode. Open loop: latency counts from each request's scheduled send time. ` +
      `Node flags of the mesh's processes: \`${meta.serviceNodeArgs ?? "(not recorded)"}\`${meta.serviceNodeArgsFromEnv ? " (from TIERMESH_NODE_ARGS)" : " (the default)"}` +
      (meta.serviceEntries
        ? `; entry scripts: ${Object.entries(meta.serviceEntries)
            .map(([s, e]) => `${s} \`${e}\``)
            .join(", ")}.`
        : "."),
    "",
    `Primary path: the OpenAI-compatible edge, \`POST /v1/chat/completions\` non-streaming, over an undici keep-alive pool ` +
      `(${meta.connections} connections); the provider alone is the simulator on the same call (0 ms latency, 4 output tokens). ` +
      `"added" is the mode minus the provider alone at the same rate in this run. Mesh CPU sums every process but the ` +
      `simulator and the load generator (nats-server included). A mode stops rising at its first rate with errors or ` +
      `below ${meta.sustained * 100}% of the target rate.`,
    "",
    "## Targets",
    "",
    table(
      ["mode", "target", "goal", "measured", "verdict"],
      targets.map((t) => [t.mode, t.what, t.goal, t.value === null ? "—" : `${f(t.value, t.digits)} ${t.unit}`, `**${t.verdict}**`]),
    ),
    "",
    meta.soakSeconds > 0
      ? `RSS targets: each process's RSS after ${meta.soakSeconds} s at ${meta.soakRate} req/s (the soak, before the rate sweep), as the targets are stated; the per-process tables also give the peak over the whole run.`
      : "RSS targets: no soak was run (--soak-seconds 0), so the peak over this mode's whole run stands in.",
    "",
    "## Latency and throughput (ms)",
    "",
    table(
      [
        "mode",
        "path",
        "rate",
        "achieved",
        "errors",
        "p50",
        "p99",
        "p99.9",
        "added p50",
        "added p99",
        "added p99.9",
        "mesh CPU ms/req",
        "note",
      ],
      results.modes.flatMap((m) =>
        m.rates.map((r) => [
          m.mode,
          m.path,
          r.target,
          f(r.achieved, 0),
          `${r.errors}/${r.requests}`,
          f(r.p50),
          f(r.p99),
          f(r.p999),
          f(added(results, m, r, "p50")),
          f(added(results, m, r, "p99")),
          f(added(results, m, r, "p999")),
          f(r.meshCpuMsPerRequest, 3),
          r.stopped ? `stopped here: ${r.stopped}` : "",
        ]),
      ),
    ),
  ];
  for (const m of results.modes) {
    const soaked = Object.keys(m.soakRssMb ?? {}).length > 0;
    out.push("", `## CPU ms per request and RSS per process: ${m.mode} (${m.path})`, "");
    out.push(
      table(
        ["process", ...m.rates.map((r) => `${r.target} req/s`), ...(soaked ? [`RSS MB after soak`] : []), "peak RSS MB"],
        m.processes.map((n) => [
          n,
          ...m.rates.map((r) => f(r.cpuMsPerRequest[n], 3)),
          ...(soaked ? [f(m.soakRssMb[n], 0)] : []),
          f(m.peakRssMb[n], 0),
        ]),
      ),
    );
  }
  const errors = results.modes.flatMap((m) =>
    m.rates.flatMap((r) => Object.entries(r.errorKinds).map(([k, v]) => `- ${m.mode} ${m.path} @ ${r.target}: ${v} × ${k}`)),
  );
  if (errors.length) out.push("", "## Errors", "", ...errors);
  if (results.floor) {
    out.push(
      "",
      "## The floor: one hop before any tiermesh logic",
      "",
      "A request through the multi-process mesh crosses three hops: the HTTP edge (HTTP/1.1 server), router → executor " +
        "(the mesh transport, client and server) and executor → provider (HTTP/1.1 client); the one-process mode crosses " +
        "the first and the last. What those hops cost alone, in this run:",
      "",
      renderHopFloor(results.floor),
    );
    const hop = (k) => results.floor.hops.find((h) => h.kind === k)?.cpuMs;
    const [mesh, h1] = [hop("mesh"), hop("h1")];
    if (mesh !== undefined && h1 !== undefined) {
      out.push(
        "",
        `Sum of the hops alone, a lower bound for a request's CPU with no routing, metrics, ledger or tracing at all: ` +
          `multi-process ${f(h1 + mesh, 2)} ms (HTTP/1.1 exchange + mesh hop), one-process ${f(h1, 2)} ms (HTTP/1.1 exchange).`,
      );
    }
  }
  return `${out.join("\n")}\n`;
}
