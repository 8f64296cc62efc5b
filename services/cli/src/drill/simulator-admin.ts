import type { ModelProfile } from "@tiermesh/simulator";
import { DrillSetupError } from "./drill-target.js";
import type { ProfilePatch } from "./fault-patch.js";

const ADMIN_TIMEOUT_MS = 5_000;
const RESTORE_BACKOFF_MS = 300;

/** A call to the simulator's admin API that did not succeed. */
export class SimulatorAdminError extends Error {
  override readonly name = "SimulatorAdminError";
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS) });
  } catch (cause) {
    throw new SimulatorAdminError(
      `simulator admin ${init.method ?? "GET"} ${url}: ${String((cause as Error).cause ?? (cause as Error).message)}`,
      { cause },
    );
  }
  const text = await res.text();
  if (!res.ok) throw new SimulatorAdminError(`simulator admin ${init.method ?? "GET"} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

/** The simulator's admin API for one model: read its profile, change it, put it back. */
export class SimulatorAdmin {
  constructor(
    readonly simulatorUrl: string,
    readonly model: string,
  ) {}

  /** The model's current runtime profile (`GET /admin/models`). */
  async profile(): Promise<ModelProfile> {
    let all: unknown;
    try {
      all = await call(`${this.simulatorUrl}/admin/models`, { method: "GET" });
    } catch (err) {
      throw new DrillSetupError(`cannot reach the simulator's admin API (is the mesh running?): ${(err as Error).message}`, { cause: err });
    }
    const profile = (all as Record<string, ModelProfile | undefined>)[this.model];
    if (profile === undefined) throw new DrillSetupError(`the simulator at ${this.simulatorUrl} has no model "${this.model}"`);
    return profile;
  }

  /** Puts `profile` back whole, retrying a failed call; answers the profile the simulator then holds. */
  async restore(profile: ModelProfile, attempts = 3): Promise<ModelProfile> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.patch(profile);
      } catch (err) {
        if (attempt >= attempts) throw err;
        await new Promise((r) => setTimeout(r, RESTORE_BACKOFF_MS * attempt));
      }
    }
  }

  /** Applies a partial profile (`PATCH /admin/models/<model>`); answers the model's new profile. */
  async patch(patch: ProfilePatch | ModelProfile): Promise<ModelProfile> {
    return (await call(`${this.simulatorUrl}/admin/models/${encodeURIComponent(this.model)}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(patch),
    })) as ModelProfile;
  }
}
