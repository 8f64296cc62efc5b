import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, spawnServiceProcess, type ServiceProcess } from "@tiermesh/process";
import { healthClient, routerClient, unary } from "../support/grpc-clients.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";
import { steadyTraffic } from "../support/traffic.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const mainOf = (service: string) => join(root, `services/${service}/dist/main.js`);

async function metric(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(name));
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - started;
}

async function health(url: string): Promise<string> {
  const client = healthClient(url);
  try {
    return (await unary<{ status: string }>(client, "Check", { service: "" }, undefined, 1_000)).status;
  } catch {
    return "UNREACHABLE";
  } finally {
    client.close();
  }
}

/**
 * Routers classify with the policy the classifier publishes: they keep routing when the
 * classifier dies, resynchronise when it is back, and every replica sees a config change.
 */
describe("policy distribution from the classifier to routers", () => {
  let m: RunningMesh;
  let replica: ServiceProcess;
  let replicaUrl: string;
  const spawned: ServiceProcess[] = [];
  const spawn = (service: string, file: string) => {
    const p = spawnServiceProcess({
      name: service,
      command: process.execPath,
      args: [mainOf(service), "--config", file],
      env: { ...process.env, TIERMESH_NATS_URL: m.mesh.natsUrl },
    });
    spawned.push(p);
    return p;
  };

  beforeAll(async () => {
    m = await startMesh();
    // A second router replica: the same config but its own port.
    const port = await freePort();
    replicaUrl = `http://127.0.0.1:${port}`;
    const replicaFile = join(m.dir, "replica.yaml");
    writeFileSync(replicaFile, stringify({ ...m.raw, router: { ...(m.raw["router"] as object), listen: `127.0.0.1:${port}` } }));
    replica = spawn("router", replicaFile);
    await until(async () => (await health(replicaUrl)) === "SERVING", 10_000, "replica router serving");
  });
  afterAll(async () => {
    await Promise.all(spawned.map((p) => p.stop("SIGTERM")));
    await m?.stop();
  });

  it("kill -9 of the classifier under traffic fails no request; routers report a stale policy, then resync", async () => {
    const traffic = steadyTraffic(m.routerUrl, { workers: 4, pauseMs: 60 });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const [before] = await metric(m.routerUrl, "tiermesh_router_policy_info");
      expect(before).toMatch(/stale="0"/);
      await m.mesh.processes.get("classifier")!.stop("SIGKILL");
      await until(
        async () => (await metric(m.routerUrl, "tiermesh_router_policy_info"))[0]?.includes('stale="1"') ?? false,
        2_000,
        "router sees the classifier gone",
      );
      expect(await health(m.routerUrl)).toBe("SERVING");
      const servedWhileAway = traffic.served.length;
      await new Promise((r) => setTimeout(r, 1_500));
      expect(traffic.served.length - servedWhileAway).toBeGreaterThan(20);
      const [staleFor] = await metric(m.routerUrl, "tiermesh_router_policy_stale_seconds");
      expect(Number(staleFor!.split(" ")[1])).toBeGreaterThan(1);

      if ((await health(m.classifierUrl)) !== "SERVING") spawn("classifier", m.file);
      const resync = await until(
        async () => (await metric(m.routerUrl, "tiermesh_router_policy_info"))[0]?.includes('stale="0"') ?? false,
        10_000,
        "router back in sync",
      );
      expect(resync).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await traffic.stop();
    }
    expect(traffic.failed).toEqual([]);
    expect(traffic.served.length).toBeGreaterThan(50);
  });

  it("a config change reaches both router replicas within 1 s", async () => {
    const requested = async (url: string) => {
      const client = routerClient(url);
      try {
        const res = await unary<{ routing: { requested_tier: string } }>(client, "Complete", {
          input: { messages: [{ role: "user", content: "which tier" }], max_tokens: 4 },
        });
        return res.routing.requested_tier;
      } finally {
        client.close();
      }
    };
    // The version of the policy a router holds, from its /metrics: a scrape costs far less than
    // a completion, so the time measured is the change's, not a request's.
    const versionAt = async (url: string) => /version="([^"]+)"/.exec((await metric(url, "tiermesh_router_policy_info"))[0] ?? "")?.[1];
    expect(await requested(m.routerUrl)).toBe("gold");
    expect(await requested(replicaUrl)).toBe("gold");
    const before = await versionAt(m.routerUrl);
    expect(before).toBeTruthy();
    expect(await versionAt(replicaUrl)).toBe(before);
    const raw = structuredClone(m.raw) as Record<string, any>;
    raw.plans.enterprise.default_tier = "silver";
    const changedAt = Date.now();
    writeFileSync(m.file, stringify(raw));
    const [first, second] = await Promise.all([
      until(async () => ![before, undefined].includes(await versionAt(m.routerUrl)), 3_000, "first router"),
      until(async () => ![before, undefined].includes(await versionAt(replicaUrl)), 3_000, "replica"),
    ]);
    expect(Math.max(first, second)).toBeLessThan(1_000);
    // Both route by it at once.
    expect(await requested(m.routerUrl)).toBe("silver");
    expect(await requested(replicaUrl)).toBe("silver");
    expect(Date.now() - changedAt).toBeLessThan(3_000);
    expect(replica.lines.join("\n")).not.toMatch(/"level":50/);

    // The classifier's own /metrics: the version it publishes is the one both routers hold, and both watch it.
    const [published] = await metric(m.classifierUrl, "tiermesh_classifier_policy_info");
    const version = /version="([^"]+)"/.exec(published ?? "")?.[1];
    expect(version).toBeTruthy();
    for (const url of [m.routerUrl, replicaUrl]) {
      expect((await metric(url, "tiermesh_router_policy_info"))[0]).toContain(`version="${version}"`);
    }
    const [watchers] = await metric(m.classifierUrl, "tiermesh_classifier_policy_watchers");
    expect(Number(watchers?.split(" ")[1])).toBeGreaterThanOrEqual(2);
    const [publications] = await metric(m.classifierUrl, "tiermesh_classifier_policy_publications_total");
    expect(Number(publications?.split(" ")[1])).toBeGreaterThanOrEqual(1);
  });
});

describe("a router without a classifier", () => {
  it("waits NOT_SERVING instead of guessing, and serves once a classifier publishes", async () => {
    const m = await startMesh();
    const spawned: ServiceProcess[] = [];
    try {
      await m.mesh.processes.get("classifier")!.stop("SIGKILL");
      await m.mesh.processes.get("router")!.stop("SIGTERM");
      spawned.push(
        spawnServiceProcess({
          name: "router",
          command: process.execPath,
          args: [mainOf("router"), "--config", m.file],
          env: { ...process.env, TIERMESH_NATS_URL: m.mesh.natsUrl },
        }),
      );
      await until(async () => (await health(m.routerUrl)) !== "UNREACHABLE", 10_000, "router listening");
      await new Promise((r) => setTimeout(r, 500));
      expect(await health(m.routerUrl)).toBe("NOT_SERVING");
      const client = routerClient(m.routerUrl);
      try {
        await expect(unary(client, "Complete", { input: { messages: [{ role: "user", content: "hi" }] } })).rejects.toThrow(
          /UNAVAILABLE: no routing policy yet/,
        );
      } finally {
        client.close();
      }
      if ((await health(m.classifierUrl)) !== "SERVING") {
        spawned.push(
          spawnServiceProcess({
            name: "classifier",
            command: process.execPath,
            args: [mainOf("classifier"), "--config", m.file],
            env: { ...process.env, TIERMESH_NATS_URL: m.mesh.natsUrl },
          }),
        );
      }
      await until(async () => (await health(m.routerUrl)) === "SERVING", 10_000, "router serving once the policy arrives");
    } finally {
      await Promise.all(spawned.map((p) => p.stop("SIGTERM")));
      await m.stop();
    }
  });
});
