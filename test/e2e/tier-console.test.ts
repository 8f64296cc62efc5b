import type { Browser } from "playwright-core";
import { TierState } from "@tiermesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepScreenshot, launchChromium, openPage, requireChromium } from "../support/headless-browser.js";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";
import { watchStatus } from "../support/status-watch.js";
import { steadyTraffic } from "../support/traffic.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The console must show an outage this soon after it starts. */
const SHOWN_WITHIN_MS = 2_000;
const mode = process.env["TIERMESH_TEST_MESH"] === "one-process" ? "one-process" : "mesh";

describe("tier console in a headless browser", () => {
  let m: RunningMesh;
  let browser: Browser;

  beforeAll(async () => {
    requireChromium();
    m = await startMesh();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await m?.stop();
  });

  it("shows gold going DOWN within 2 s of its provider's outage, the fallback traffic, and gold back after recovery", async () => {
    const status = await watchStatus(m.mesh.natsUrl);
    const traffic = steadyTraffic(m.routerUrl, { workers: 3, pauseMs: 20 });
    const { page, problems } = await openPage(browser, `${m.monitorUrl}/console/`);
    const gold = (state: string) => `article[data-tier="gold"][data-state="${state}"]`;
    try {
      await page.waitForSelector(gold("HEALTHY"), { timeout: 15_000 });
      expect(await page.locator("article.tier h3").allTextContents()).toEqual(["gold rank 3", "silver rank 2", "bronze rank 1"]);
      // A little traffic first, so the charts and the split have something to show.
      await page.waitForSelector('#flows tr[data-kind="own"]', { timeout: 10_000 });

      await patchModel(m.simulatorUrl, "sim-gold", { outage: true });
      const outageAt = Date.now();
      await page.waitForSelector(gold("DOWN"), { timeout: 15_000 });
      const shownAfterMs = Date.now() - outageAt;
      const published = await status.waitFor("gold", TierState.DOWN, outageAt - 1);
      expect(
        shownAfterMs,
        `the page showed DOWN ${shownAfterMs} ms after the outage (published after ${published.receivedAt - outageAt} ms)`,
      ).toBeLessThan(SHOWN_WITHIN_MS);

      const card = page.locator(gold("DOWN"));
      expect(await card.locator(".state").textContent()).toBe("DOWN");
      expect(await card.locator(".reason").textContent()).toMatch(/consecutive failed attempts|error rate/);
      expect(await page.locator('#timeline li[data-tier="gold"][data-state="DOWN"]').count()).toBe(1);
      // Gold's traffic is served by silver: the split names it as a fallback.
      await page.waitForSelector('#flows tr[data-kind="fallback"]', { timeout: 5_000 });
      expect(await page.locator('#flows tr[data-kind="fallback"] td').allTextContents()).toEqual(
        expect.arrayContaining(["gold", "silver", "fell back ↓"]),
      );
      await sleep(1_000);
      await keepScreenshot(page, `tier-console-${mode}-down`);

      await patchModel(m.simulatorUrl, "sim-gold", { outage: false });
      await page.waitForSelector(gold("HEALTHY"), { timeout: 20_000 });
      // Newest first: back to healthy (by way of degraded: recovering), after the outage.
      const changes = await page.locator('#timeline li[data-tier="gold"] .to').allTextContents();
      expect(changes[0]).toBe("HEALTHY");
      expect(changes.indexOf("DEGRADED")).toBeLessThan(changes.indexOf("DOWN"));
      await keepScreenshot(page, `tier-console-${mode}-recovered`);

      // Seven charts drawn by uPlot, and nothing went wrong on the page.
      expect(await page.locator("#charts figure.chart canvas").count()).toBe(7);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
      await traffic.stop();
      await status.close();
    }
  }, 90_000);
});
