import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(root, "services/cli/dist/main.js");
const example = join(root, "deploy/tiermesh.example.yaml");
const dir = mkdtempSync(join(tmpdir(), "tiermesh-config-"));

const tiermesh = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: "utf8" });

/** A copy of the example config with `edit` applied. */
function copy(name: string, edit: (raw: Record<string, any>) => void): string {
  const raw = parse(readFileSync(example, "utf8")) as Record<string, any>;
  edit(raw);
  const file = join(dir, name);
  writeFileSync(file, stringify(raw));
  return file;
}

describe("tiermesh plans", () => {
  it("prints the example's plan sheet in Markdown, or a whole HTML page", () => {
    const md = tiermesh("plans", "--config", example);
    expect(md.status).toBe(0);
    expect(md.stdout).toMatch(/^# What each plan promises/);
    expect(md.stdout).toContain("## Plan pro");
    const html = tiermesh("plans", "--config", example, "--format", "html");
    expect(html.status).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(html.stdout).toContain("<h2>Plan pro</h2>");
  });

  it("refuses an unknown format or tenant with exit code 2", () => {
    const bad = tiermesh("plans", "--format", "pdf");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--format: expected markdown or html, got "pdf"');
    expect(tiermesh("plans", "--tenant", "nobody").status).toBe(2);
  });
});

describe("tiermesh config diff", () => {
  it("exits 0 when no customer sees a change", () => {
    const same = copy("same.yaml", (raw) => (raw.tiers.gold.timeouts.attempt_ms = 11_000));
    const r = tiermesh("config", "diff", example, same);
    expect(r.stdout).toBe("no change a customer can see\n");
    expect(r.status).toBe(0);
  });

  it("exits 1 and says what changes for whom", () => {
    const changed = copy("changed.yaml", (raw) => {
      raw.tiers.gold.slo.ttft_p95_ms = 600;
      raw.plans.pro.limits.requests_per_minute = 300;
    });
    const r = tiermesh("config", "diff", example, changed);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(
      "plan enterprise (tenants: demo):\n  tier gold: time to first token: 95% of answers start within 800 ms → 95% of answers start within 600 ms\n",
    );
    expect(r.stdout).toContain("plan pro (tenants: none):\n  requests per minute: 600 requests per minute → 300 requests per minute\n");
  });

  it("exits 2 on a usage error or an invalid config, naming the file and the field", () => {
    const usage = tiermesh("config", "diff", example);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("expected two config files, got 1");
    const invalid = copy("invalid.yaml", (raw) => (raw.plans.pro.max_tier = "platinum"));
    const r = tiermesh("config", "diff", example, invalid);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`config error in ${invalid}: plans.pro.max_tier: unknown tier "platinum"`);
    expect(tiermesh("config", "diff", example, join(dir, "missing.yaml")).stderr).toContain("missing.yaml: cannot read file: ENOENT");
  });
});
