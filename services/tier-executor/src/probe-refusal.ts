import { Code, ConnectError } from "@connectrpc/connect";
import { DEPLOYMENT_COOLING, ERROR_REASON_HEADER, RETRY_AFTER_HEADER, RETRY_AFTER_MS_HEADER } from "@tiermesh/proto";
import type { DeploymentState } from "./deployment-state.js";

/**
 * Why a canary probe directed at `state` must not be sent now, before any provider call:
 * the deployment is cooling down because its provider asked us to wait (429, Retry-After),
 * and a probe is a provider call like any other. Undefined when the probe may go.
 *
 * The refusal is RESOURCE_EXHAUSTED with reason `deployment-cooling` and the time left, so
 * the monitor neither counts it as the deployment failing nor as it answering, and asks again
 * once the wait is over. An open breaker or a stall does not refuse a probe: probes are how
 * a recovery is noticed. Counts the refusal in the deployment's probe tally.
 */
export function probeRefusal(tierName: string, state: DeploymentState, now: number): ConnectError | undefined {
  const waitMs = state.coolingForMs(now);
  if (waitMs <= 0) return undefined;
  state.probes.refused++;
  return new ConnectError(
    `tier ${tierName}: deployment ${state.deployment.id} is rate limited for ${waitMs} ms more (the provider asked to wait); probe not sent`,
    Code.ResourceExhausted,
    {
      [ERROR_REASON_HEADER]: DEPLOYMENT_COOLING,
      [RETRY_AFTER_HEADER]: String(Math.ceil(waitMs / 1_000)),
      [RETRY_AFTER_MS_HEADER]: String(waitMs),
    },
  );
}
