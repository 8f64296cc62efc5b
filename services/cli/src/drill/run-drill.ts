import { randomBytes } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import type { ModelProfile } from "@tiermesh/simulator";
import type { DrillOptions } from "./drill-options.js";
import { DrillSetupError, type DrillTarget } from "./drill-target.js";
import { activeFaults, faultPatch, type ProfilePatch } from "./fault-patch.js";
import { computeReport, type DrillFigures } from "./report.js";
import { CANCELLED, callRouter, type CallerShape } from "./router-call.js";
import type { TierObjectives, Timeline } from "./sample.js";
import { SimulatorAdmin } from "./simulator-admin.js";
import { OpenLoopTraffic } from "./traffic.js";

/** Everything `tiermesh drill --json` prints: what was rehearsed, and what was measured. */
export interface DrillReport extends DrillFigures {
  drill: {
    config: string;
    routerUrl: string;
    simulatorUrl: string;
    tier: string;
    deployment: string;
    model: string;
    fault: { kind: DrillOptions["fault"]; patch: ProfilePatch };
    ratePerSecond: number;
    beforeMs: number;
    durationMs: number;
    afterMs: number;
    tenant: string;
    urgency: string;
    tierHint: string;
    users: number;
    startedAt: string;
  };
  slo: Omit<TierObjectives, "tier">;
  /** The model's profile is back to what it was before the drill. */
  restored: boolean;
  /** Time the simulator took to acknowledge the fault and the restore: the fault's edges are this uncertain. */
  adminAckMs: { fault: number | null; restore: number | null };
  /** The drill's own event-loop delay while it ran: client-observed figures include up to this much of it. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Ctrl-C cut the drill short; the figures cover what ran. */
  interrupted: boolean;
  warnings: string[];
}

export interface DrillHooks {
  /** Progress lines for a human (stderr). */
  log: (line: string) => void;
  /** Aborted on Ctrl-C: the drill restores the model and reports what it has. */
  signal: AbortSignal;
  /** Called with the profile to put back while it is changed, and with undefined once it is back. */
  onPendingRestore?: (profile: ModelProfile | undefined) => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });

/** Own lag above which the report warns that client-side figures are not only the mesh's. */
const LAG_WARNING_MS = 50;

const seconds = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;

/** Checks the router puts the drill's requests on the tier it is about to fault. */
async function preflight(
  target: DrillTarget,
  shape: CallerShape,
  userPrefix: string,
  signal: AbortSignal,
  warnings: string[],
): Promise<void> {
  const s = await callRouter(
    target.routerUrl,
    performance.now(),
    -1,
    `${userPrefix}-preflight`,
    { ...shape, timeoutMs: Math.min(shape.timeoutMs, 10_000) },
    () => performance.now(),
    signal,
  );
  if (signal.aborted) throw new DrillSetupError("interrupted before the drill began; nothing was changed");
  if (!s.ok) {
    throw new DrillSetupError(
      `the router at ${target.routerUrl} did not answer a test request (${s.errorCode}: ${s.errorMessage}); is the mesh running?`,
    );
  }
  if (s.requestedTier !== target.tier) {
    const who = target.tenant ? `tenant ${target.tenant}` : "this API key";
    throw new DrillSetupError(
      `requests from ${who} with urgency "${shape.urgency}"${shape.tierHint ? ` and tier hint ${shape.tierHint}` : ""} are classified to ${s.requestedTier}, ` +
        `not ${target.tier}; pick --urgency, --tier-hint or --api-key so they land on ${target.tier} (see tiermesh explain)`,
    );
  }
  if (s.servedTier !== target.tier)
    warnings.push(`before the drill a ${target.tier} request was served by ${s.servedTier}: ${target.tier} may not be healthy`);
}

/**
 * The drill's timeline: healthy traffic, the fault on the tier's simulated model, the model's
 * profile put back exactly as it was (also on Ctrl-C or error), traffic after, then the report.
 */
export async function runDrill(o: DrillOptions, target: DrillTarget, hooks: DrillHooks): Promise<DrillReport> {
  const { log, signal } = hooks;
  const warnings: string[] = [];
  const admin = new SimulatorAdmin(target.simulatorUrl, target.model);
  const saved = await admin.profile();
  const already = activeFaults(saved);
  if (already.length > 0)
    warnings.push(`${target.model} already had faults on before the drill (${already.join(", ")}); they are kept and restored`);
  const patch = faultPatch(o.fault, saved, o);
  const shape: CallerShape = { urgency: o.urgency, tierHint: o.tierHint, apiKey: o.apiKey, timeoutMs: o.timeoutMs };
  const userPrefix = `drill-${randomBytes(2).toString("hex")}`;
  await preflight(target, shape, userPrefix, signal, warnings);

  const now = () => performance.now();
  const traffic = new OpenLoopTraffic({
    routerUrl: target.routerUrl,
    ratePerSecond: o.ratePerSecond,
    users: o.users,
    userPrefix,
    shape,
    now,
  });
  const startedAt = new Date();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t: Timeline = { trafficStartAt: now(), faultStartAt: Number.NaN, faultEndAt: Number.NaN, trafficEndAt: Number.NaN };
  let restored = true;
  const adminAckMs: DrillReport["adminAckMs"] = { fault: null, restore: null };
  try {
    traffic.start();
    log(`drill: ${seconds(o.beforeMs)} of traffic at ${o.ratePerSecond} req/s to ${target.tier} before the fault`);
    await sleep(o.beforeMs, signal);
    if (!signal.aborted) {
      let attempted = false;
      try {
        log(
          `drill: ${o.fault} on ${target.model} (${target.tier}, deployment ${target.deploymentId}) for ${seconds(o.durationMs)}: ${JSON.stringify(patch)}`,
        );
        attempted = true;
        hooks.onPendingRestore?.(saved);
        // The fault counts from the moment it is asked for, as an operator pulling the plug would see it.
        const asked = now();
        await admin.patch(patch);
        adminAckMs.fault = Math.round(now() - asked);
        t.faultStartAt = asked;
        await sleep(Math.max(0, asked + o.durationMs - now()), signal);
      } finally {
        if (attempted) {
          const asked = now();
          try {
            const back = await admin.restore(saved);
            adminAckMs.restore = Math.round(now() - asked);
            t.faultEndAt = asked;
            restored = isDeepStrictEqual(back, saved);
            if (!restored) warnings.push(`${target.model}'s profile after the drill differs from before: ${JSON.stringify(back)}`);
            else hooks.onPendingRestore?.(undefined);
            log(`drill: ${target.model} restored`);
          } catch (err) {
            restored = false;
            t.faultEndAt = asked;
            warnings.push(`could not restore ${target.model}: ${(err as Error).message}`);
          }
        }
      }
    }
    if (Number.isNaN(t.faultStartAt)) t.faultStartAt = t.faultEndAt = now();
    if (!signal.aborted) {
      log(`drill: ${seconds(o.afterMs)} of traffic after the fault`);
      await sleep(o.afterMs, signal);
    }
    t.trafficEndAt = now();
    traffic.stop();
    if (signal.aborted) traffic.cancel();
    else if (traffic.inFlight > 0) log(`drill: waiting for ${traffic.inFlight} answers still on their way`);
    await traffic.drain(o.timeoutMs + 3_000);
  } finally {
    traffic.cancel();
    loop.disable();
  }

  // Requests cut off by Ctrl-C have no outcome: they are counted apart, not as failures.
  const finished = traffic.samples.filter((s) => s.errorCode !== CANCELLED);
  const unfinished = traffic.samples.length - finished.length;
  if (unfinished > 0) warnings.push(`${unfinished} requests still in flight when the drill stopped are left out of the figures`);
  const figures = computeReport(finished, t, target.objectives);
  const ms = (ns: number) => Math.round(ns / 1e5) / 10;
  const eventLoopDelayMs = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) };
  if (eventLoopDelayMs.p99 > LAG_WARNING_MS || (figures.sendLagMs?.p99 ?? 0) > LAG_WARNING_MS) {
    warnings.push(
      `the drill itself lagged (event-loop delay p99 ${eventLoopDelayMs.p99} ms, send lag p99 ${figures.sendLagMs?.p99} ms): ` +
        "the machine is short of CPU, and client-observed latencies include some of the drill's own delay",
    );
  }
  const { tier: _tier, ...slo } = target.objectives;
  return {
    drill: {
      config: o.config,
      routerUrl: target.routerUrl,
      simulatorUrl: target.simulatorUrl,
      tier: target.tier,
      deployment: target.deploymentId,
      model: target.model,
      fault: { kind: o.fault, patch },
      ratePerSecond: o.ratePerSecond,
      beforeMs: o.beforeMs,
      durationMs: o.durationMs,
      afterMs: o.afterMs,
      tenant: target.tenant,
      urgency: o.urgency,
      tierHint: o.tierHint,
      users: o.users,
      startedAt: startedAt.toISOString(),
    },
    slo,
    ...figures,
    restored,
    adminAckMs,
    eventLoopDelayMs,
    interrupted: signal.aborted,
    warnings,
  };
}
