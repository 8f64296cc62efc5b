// The traffic trace: tenants on several plans, interactive and batch requests, end users,
// a daily shape compressed into the run (low → peak → low), all from one seeded PRNG so
// every policy sees exactly the same requests at the same offsets.

/** mulberry32: small, fast, good enough for load shapes; same seed, same sequence. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Who sends traffic. `share` is the tenant's part of all requests; `interactive` its share
 * of interactive requests at the daily peak (batch work grows off-peak).
 */
export const tenants = [
  { name: "acme", plan: "enterprise", users: 40, share: 0.22, interactive: 0.85 },
  { name: "globex", plan: "enterprise", users: 25, share: 0.13, interactive: 0.75 },
  { name: "initech", plan: "pro", users: 30, share: 0.2, interactive: 0.7 },
  { name: "umbrella", plan: "pro", users: 20, share: 0.12, interactive: 0.6 },
  { name: "hooli", plan: "free", users: 80, share: 0.2, interactive: 0.5 },
  { name: "piedpiper", plan: "free", users: 50, share: 0.13, interactive: 0.4 },
];

const prompts = {
  interactive: [
    "What is the status of order 4411 and when will it ship?",
    "Rewrite this sentence so it sounds friendlier: your ticket was closed.",
    "Give me three name ideas for a hiking app.",
    "Explain the difference between a mutex and a semaphore in two sentences.",
    "Translate 'the meeting moved to Thursday' into German.",
  ],
  batch: [
    `Summarise the following support conversation in five bullet points. ${"The customer reports intermittent login failures after the last update. ".repeat(12)}`,
    `Classify each of these product reviews as positive, neutral or negative. ${"Great value, arrived late, works as described, battery weak. ".repeat(15)}`,
    `Extract every date, amount and counterparty from this invoice text as JSON. ${"Invoice 2291 dated 2026-03-02, amount 1,240.00 EUR, payee Initech GmbH. ".repeat(10)}`,
  ],
};

/** Requests per second at `t` (0..1 of the run): low at both ends, peak in the middle. */
export function rateAt(t, low, peak) {
  return low + (peak - low) * Math.sin(Math.PI * t) ** 2;
}

/**
 * Open-loop arrivals (a Poisson process with a time-varying rate, by thinning) over
 * `seconds`, each with a tenant, user, urgency, prompt and max_tokens.
 */
export function generateTrace({ seed, seconds, low, peak }) {
  const random = prng(seed);
  const out = [];
  const total = tenants.reduce((s, t) => s + t.share, 0);
  let at = 0;
  for (;;) {
    at += -Math.log(1 - random()) / peak;
    if (at >= seconds) break;
    const t = at / seconds;
    if (random() > rateAt(t, low, peak) / peak) continue;
    let pick = random() * total;
    const tenant = tenants.find((x) => (pick -= x.share) < 0) ?? tenants.at(-1);
    // Off-peak, more of the traffic is batch work (0.6 of the peak interactive share at the ends).
    const interactiveShare = tenant.interactive * (0.6 + 0.4 * Math.sin(Math.PI * t) ** 2);
    const urgency = random() < interactiveShare ? "interactive" : "batch";
    const list = prompts[urgency];
    out.push({
      i: out.length,
      atMs: Math.round(at * 1_000),
      tenant: tenant.name,
      plan: tenant.plan,
      // A few heavy users per tenant, a long tail of light ones.
      user: `${tenant.name}-u${Math.floor(tenant.users * random() ** 2)}`,
      urgency,
      prompt: list[Math.floor(random() * list.length)],
      maxTokens: urgency === "batch" ? 256 : 64,
    });
  }
  return out;
}
