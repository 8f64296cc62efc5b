import { z } from "zod";

/** A `host:port` pair a service listens on. */
export const hostPort = z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'expected "host:port"');

/** Tier, plan, tenant and provider names: short lowercase identifiers. */
export const identifier = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, "expected a lowercase identifier (a-z, 0-9, _ or -)");

export const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });

export const positiveMs = z.number().int().positive();

export const fraction = z.number().min(0).max(1);
