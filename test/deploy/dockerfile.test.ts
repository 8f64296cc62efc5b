import { existsSync, readFileSync } from "node:fs";
import { join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { root } from "../support/deploy-files.js";
import { parseDockerfile } from "../support/dockerfile.js";

const instructions = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
/**
 * .dockerignore's plain entries in order, each leaving a path out or, after `!`, letting it
 * back in; as in Docker, the last entry that matches a path decides (patterns are not read).
 */
const rules = readFileSync(join(root, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#") && !/[*?[]/.test(l))
  .map((l) => (l.startsWith("!") ? { entry: normalize(l.slice(1)), keep: true } : { entry: normalize(l), keep: false }));
/** The entry that leaves `path` out of the build context, if one does. */
const excludedBy = (path: string): string | undefined => {
  const last = rules.findLast((r) => path === r.entry || path.startsWith(`${r.entry}/`));
  return last?.keep === false ? last.entry : undefined;
};

describe("Dockerfile", () => {
  it("parses into stages, each FROM an image, later stages copying only from earlier ones", () => {
    const stages: string[] = [];
    for (const i of instructions) {
      if (i.keyword === "FROM") {
        expect(i.args[0], `line ${i.line}`).toMatch(/^node:\d+/);
        stages.push(i.args[2] ?? String(stages.length));
      }
      if (i.keyword === "COPY" && i.flags["from"] !== undefined)
        expect(stages.slice(0, -1), `line ${i.line}: --from`).toContain(i.flags["from"]);
    }
    expect(instructions[0]!.keyword).toBe("FROM");
    expect(stages.length).toBeGreaterThanOrEqual(2);
  });

  it("copies only files and folders that exist in the build context (the repository root) and .dockerignore lets through", () => {
    const copies = instructions.filter((i) => (i.keyword === "COPY" || i.keyword === "ADD") && i.flags["from"] === undefined);
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy.args.slice(0, -1);
      expect(sources.length, `line ${copy.line}`).toBeGreaterThan(0);
      for (const source of sources) {
        const path = normalize(source);
        expect(/[*?[]/.test(source), `line ${copy.line}: ${source} is a pattern`).toBe(false);
        expect(existsSync(join(root, path)), `line ${copy.line}: ${source} exists`).toBe(true);
        expect(excludedBy(path), `line ${copy.line}: ${source} is left out by .dockerignore`).toBeUndefined();
      }
    }
  });

  it("runs node from /app, with the memory settings the services are tuned for, and a command whose source exists", () => {
    const last = instructions.slice(instructions.map((i) => i.keyword).lastIndexOf("FROM"));
    expect(last.find((i) => i.keyword === "WORKDIR")?.args).toEqual(["/app"]);
    const env = last
      .filter((i) => i.keyword === "ENV")
      .flatMap((i) => i.args)
      .join(" ");
    expect(env).toMatch(/NODE_OPTIONS="[^"]*--max-old-space-size=\d+/);
    expect(env).toContain("MALLOC_ARENA_MAX=2");
    expect(last.find((i) => i.keyword === "ENTRYPOINT")?.args).toEqual(["node"]);
    const script = last.find((i) => i.keyword === "CMD")!.args[0]!;
    expect(existsSync(join(root, script.replace(/\/dist\/main(\.bundle\.mjs|\.js)$/, "/src/main.ts"))), script).toBe(true);
    expect(last.find((i) => i.keyword === "USER")?.args).toEqual(["node"]);
  });
});
