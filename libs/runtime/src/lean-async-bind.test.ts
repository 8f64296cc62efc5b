import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// Installed in a child process (built code): it changes AsyncResource for the whole process.
const moduleUrl = new URL("../dist/lean-async-bind.js", import.meta.url).href;

function inChild(body: string): { status: number | null; stdout: string; stderr: string } {
  const script = `import { leanAsyncResourceBind } from ${JSON.stringify(moduleUrl)};\n${body}`;
  return spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
}

describe("leanAsyncResourceBind", () => {
  it("keeps bind's contract: async scope, this, thisArg, length, the deprecated accessor", () => {
    const out = inChild(`
      import { AsyncLocalStorage, AsyncResource, executionAsyncId } from "node:async_hooks";
      const changed = leanAsyncResourceBind();
      const als = new AsyncLocalStorage();
      const resource = als.run("inside", () => new AsyncResource("test"));
      function three(a, b, c) { return { store: als.getStore(), self: this, id: executionAsyncId(), n: a + b + c }; }
      const bound = resource.bind(three);
      const viaThis = bound.call("caller", 1, 2, 3);
      const withThisArg = resource.bind(three, "given")(1, 1, 1);
      const twoAccessors = Object.getOwnPropertyDescriptor(bound, "asyncResource").get === Object.getOwnPropertyDescriptor(resource.bind(() => 0), "asyncResource").get;
      const other = new AsyncResource("other");
      bound.asyncResource = other;
      console.log(JSON.stringify({
        changed, again: leanAsyncResourceBind(), store: viaThis.store, self: viaThis.self, ranInResource: viaThis.id === resource.asyncId(),
        n: viaThis.n, thisArg: withThisArg.self, length: bound.length, accessorShared: twoAccessors,
        resourceSet: bound.asyncResource === other, staticBind: AsyncResource.bind(function () { return this; }, "t", "x")(),
      }));
      try { resource.bind(42); } catch (err) { console.log("refused " + err.message); }
    `);
    expect(out.stderr).toContain("DEP0172");
    const [json, refused] = out.stdout.trim().split("\n");
    expect(JSON.parse(json!)).toEqual({
      changed: true,
      again: false,
      store: "inside",
      self: "caller",
      ranInResource: true,
      n: 6,
      thisArg: "given",
      length: 3,
      accessorShared: true,
      resourceSet: true,
      staticBind: "x",
    });
    expect(refused).toMatch(/refused .*"fn".*function/);
  });
});
