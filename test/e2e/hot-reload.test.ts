import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { spawnServiceProcess, type ServiceProcess } from "@tiermesh/process";
import { ClassifierService } from "@tiermesh/proto";
import { createMeshTransport, waitForServing } from "@tiermesh/runtime";
import { writeMeshConfig, type TestMeshConfig } from "../support/mesh-config.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("classifier hot reload", () => {
  let cfg: TestMeshConfig;
  let proc: ServiceProcess;

  beforeAll(async () => {
    cfg = await writeMeshConfig();
    proc = spawnServiceProcess({
      name: "classifier",
      command: process.execPath,
      args: [join(root, "services/classifier/dist/main.js"), "--config", cfg.file],
      env: { ...process.env, TIERMESH_NATS_URL: "nats://127.0.0.1:1" },
    });
    await waitForServing(cfg.classifierUrl, 10_000);
  });
  afterAll(async () => {
    await proc?.stop();
  });

  const rewrite = (change: (raw: any) => void) => {
    const raw = parse(readFileSync(cfg.file, "utf8"));
    change(raw);
    writeFileSync(cfg.file, stringify(raw));
  };

  it("applies a changed file without restart and without failing in-flight calls; refuses a bad one and keeps running", async () => {
    const client = createClient(ClassifierService, createMeshTransport(cfg.classifierUrl));
    const ask = () => client.classify({ tenant: "acme", input: { messages: [{ role: "user", content: "hi" }], urgency: "interactive" } });
    expect((await ask()).tier).toBe("gold");

    // Keep calls flowing through both reloads; none may fail.
    let running = true;
    const failures: unknown[] = [];
    let calls = 0;
    const load = (async () => {
      while (running) {
        await ask().then(
          () => calls++,
          (err: unknown) => failures.push(err),
        );
      }
    })();

    rewrite((raw) => raw.classifier.rules.unshift({ id: "interactive-to-silver", when: { urgencies: ["interactive"] }, tier: "silver" }));
    const until = Date.now() + 5_000;
    while ((await ask()).tier !== "silver" && Date.now() < until) await sleep(50);
    const after = await ask();
    expect(after.tier).toBe("silver");
    expect(after.ruleIds).toEqual(["interactive-to-silver"]);

    rewrite((raw) => (raw.classifier.rules[0].tier = "platinum"));
    await sleep(600);
    expect((await ask()).tier).toBe("silver");
    expect(proc.lines.some((l) => l.includes("new config refused") && l.includes("classifier.rules.0.tier"))).toBe(true);

    // SIGHUP reloads too.
    rewrite((raw) => (raw.classifier.rules[0].tier = "bronze"));
    proc.child.kill("SIGHUP");
    await sleep(300);
    expect((await ask()).tier).toBe("bronze");

    running = false;
    await load;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(20);
    expect(proc.child.exitCode).toBeNull();
  });
});
