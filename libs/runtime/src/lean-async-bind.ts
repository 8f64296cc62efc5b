import { AsyncResource } from "node:async_hooks";

const kResource = Symbol("tiermesh.asyncResource");
let warned = false;

function warnOnce(): void {
  if (warned) return;
  warned = true;
  process.emitWarning("The asyncResource property on bound functions is deprecated", "DeprecationWarning", "DEP0172");
}

/** The `asyncResource` accessor of every bound function: one pair, shared. */
function getResource(this: Record<symbol, unknown>): unknown {
  warnOnce();
  return this[kResource];
}

function setResource(this: Record<symbol, unknown>, value: unknown): void {
  warnOnce();
  this[kResource] = value;
}

function leanBind(this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown): unknown {
  if (typeof fn !== "function") throw new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`);
  const resource = this;
  const bound: (...args: unknown[]) => unknown =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  (bound as unknown as Record<symbol, unknown>)[kResource] = resource;
  Object.defineProperties(bound, {
    length: { configurable: true, enumerable: false, value: fn.length, writable: false },
    asyncResource: { configurable: true, enumerable: true, get: getResource, set: setResource },
  });
  return bound;
}

/** True when this Node gives each bound function an accessor of its own (two fresh functions). */
function bindMakesAccessors(): boolean {
  const resource = new AsyncResource("tiermesh.probe");
  const accessor = (f: unknown) => Object.getOwnPropertyDescriptor(f, "asyncResource")?.get;
  const a = accessor(resource.bind(() => undefined));
  return a !== undefined && a !== accessor(resource.bind(() => undefined));
}

/**
 * Makes `AsyncResource#bind` cheap for the garbage collector; true when it changed it.
 *
 * On Node 20 every function it binds gets an `asyncResource` accessor made of two fresh
 * `util.deprecate` wrappers, and each wrapper's prototype is set to a function made for that
 * call. V8 keeps the objects such a prototype change makes through young-generation collections
 * and promotes them to old space, with everything the bound function reaches. Node's HTTP/2
 * client binds one function per stream (`ClientHttp2Session#request`), so every gRPC call a
 * router makes to an executor was promoted whole, to be freed only by a mark-compact that
 * pauses every call: a router promoted 14 KB per request, 0.9 KB with this (README: "Tail
 * latency and the garbage collector"; test/bench/promotion-patterns.mjs).
 *
 * The bound function behaves as Node's own: it runs `fn` in the resource's async scope, with
 * the caller's `this` (or `thisArg`), keeps `fn.length`, and has the deprecated
 * `asyncResource` accessor (warning DEP0172 once, as Node does). A Node whose `bind` makes no
 * accessors per call is left alone.
 */
export function leanAsyncResourceBind(): boolean {
  if (AsyncResource.prototype.bind === (leanBind as unknown) || !bindMakesAccessors()) return false;
  AsyncResource.prototype.bind = leanBind as unknown as typeof AsyncResource.prototype.bind;
  return true;
}
