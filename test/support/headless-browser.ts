import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium; TIERMESH_CHROMIUM names another binary. */
const CHROMIUM = process.env["TIERMESH_CHROMIUM"] ?? "/usr/bin/chromium";

/** Where end-to-end tests keep their screenshots (ignored by git; CI may keep the folder). */
export const ARTIFACTS_DIR = fileURLToPath(new URL("../artifacts/", import.meta.url));

export class ChromiumMissingError extends Error {
  override readonly name = "ChromiumMissingError";
}

/** The page's own problems: uncaught errors and console errors, for the test to assert on. */
export interface WatchedPage {
  page: Page;
  problems: string[];
}

/** Fails with how to install Chromium when it is missing (check before starting anything costly). */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new ChromiumMissingError(
      `headless browser tests need Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (or set TIERMESH_CHROMIUM)`,
    );
  }
}

/**
 * Headless Chromium driven by playwright-core, which downloads no browser of its own: the
 * machine's Chromium is used, and a missing one fails the test with how to install it.
 */
export async function launchChromium(): Promise<Browser> {
  requireChromium();
  // --no-sandbox: tests and CI run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

export async function openPage(browser: Browser, url: string): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}

/** Saves a full-page screenshot under test/artifacts/ and returns its path. */
export async function keepScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = `${ARTIFACTS_DIR}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}
