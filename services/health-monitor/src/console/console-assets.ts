import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** The page's own files: this package's console/ folder (from src/console and dist/console alike). */
export const PAGE_DIR = fileURLToPath(new URL("../../console/", import.meta.url));

/** uPlot's browser build, from the installed package: nothing is fetched from elsewhere. */
function uplotFiles(): Record<string, string> {
  const dist = join(dirname(createRequire(import.meta.url).resolve("uplot/package.json")), "dist");
  return { "vendor/uPlot.iife.min.js": join(dist, "uPlot.iife.min.js"), "vendor/uPlot.min.css": join(dist, "uPlot.min.css") };
}

/**
 * The console's static files, by path under /console/: only files known at start (the page
 * folder's own, by name, and uPlot's two), so no request path ever reaches the file system.
 * Read once and kept in memory with an ETag; the page is about 60 KB in all.
 */
export class ConsoleAssets {
  private readonly files = new Map<string, string>();
  private readonly loaded = new Map<string, Asset>();

  constructor(pageDir = PAGE_DIR) {
    for (const name of readdirSync(pageDir)) {
      if (/^[a-z0-9-]+\.(html|css|js|svg)$/.test(name)) this.files.set(name, join(pageDir, name));
    }
    this.files.set("", join(pageDir, "index.html"));
    for (const [path, file] of Object.entries(uplotFiles())) this.files.set(path, file);
  }

  /** The asset at `path` (relative to /console/, "" for the page), or undefined. */
  get(path: string): Asset | undefined {
    const cached = this.loaded.get(path);
    if (cached) return cached;
    const file = this.files.get(path);
    if (file === undefined) return undefined;
    const body = readFileSync(file);
    const asset = {
      body,
      contentType: TYPES[extname(file)] ?? "application/octet-stream",
      etag: `"${createHash("sha1").update(body).digest("base64url")}"`,
    };
    this.loaded.set(path, asset);
    return asset;
  }
}
