// The console's Cluster tab in a real browser (Debian's chromium, headless, via playwright-core)
// over a gateway whose cluster buckets hold member and lease entries written as the workers write
// them: before any worker ran with ownership every partition shows unowned; then each worker with
// its partitions and heartbeat age, the partitions in its color, the unowned ones marked, and a
// lease whose owner is not a member called out. A screenshot is kept in
// test-artifacts/console-cluster.png.
import { mkdirSync, statSync } from "node:fs";
import { jetstream } from "@nats-io/jetstream";
import { expect } from "chai";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../support/browser.ts";
import { clusterBuckets, type ClusterBuckets } from "../support/cluster-entries.ts";
import { OPERATORS, startOpsGateway, type OpsHarness } from "../int/ops-harness.ts";

const SCREENSHOT = "test-artifacts/console-cluster.png";
const PARTITIONS = 12;

describe("console: the Cluster tab in a real browser (e2e)", function () {
  this.timeout(60_000);
  let h: OpsHarness;
  let buckets: ClusterBuckets | undefined;
  let browser: Browser;
  let page: Page;
  const pageProblems: string[] = [];

  before(async () => {
    h = await startOpsGateway({ cluster: { partitions: PARTITIONS, leaseTtlMs: 10_000 } });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageProblems.push(`console: ${msg.text()}`);
    });
    await page.goto(`${h.url}/console`);
    await page.fill("#key", OPERATORS.alice.key);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("#app:not([hidden])");
  });
  after(async () => {
    await browser?.close();
    await buckets?.destroy();
    await h?.close();
  });

  /** The grid as shown: per partition, its owner (data-owner) and classes. */
  const cells = () =>
    page.locator("#cluster-grid .partition").evaluateAll((divs) =>
      divs.map((d) => {
        const div = d as unknown as { dataset: { partition: string; owner: string }; className: string };
        return { partition: Number(div.dataset.partition), owner: div.dataset.owner, classes: div.className };
      }),
    );

  it("shows every partition unowned and no worker before any worker ran with ownership", async () => {
    await page.click('#tabs button[data-tab="cluster"]');
    await page.waitForSelector("#cluster-grid .partition");
    const shown = await cells();
    expect(shown.map((c) => c.partition)).to.deep.equal([...Array(PARTITIONS).keys()]);
    for (const c of shown) expect(c.classes, `partition ${c.partition}`).to.contain("unowned");
    expect(await page.textContent("#cluster-members")).to.contain("No worker has a member entry.");
    expect(await page.textContent("#cluster-status")).to.contain(`0 of ${PARTITIONS} partition(s) owned`);
    expect(await page.getAttribute("#cluster-status", "class")).to.contain("error");
  });

  it("shows each worker with its partitions and heartbeat age, the partitions in its color, unowned ones marked and a lease of no member called out", async () => {
    buckets = await clusterBuckets(jetstream(h.nc), h.prefix, 10_000);
    await buckets.member("w-alpha", [0, 1, 2, 3, 4], {
      heartbeatAgoMs: 1_500,
      lastRebalance: { at: new Date().toISOString(), gained: 5, lost: 0 },
    });
    await buckets.member("w-beta", [5, 6, 7, 8], { heartbeatAgoMs: 200 });
    for (const p of [0, 1, 2, 3, 4]) await buckets.lease(p, "w-alpha");
    for (const p of [5, 6, 7, 8]) await buckets.lease(p, "w-beta");
    await buckets.lease(9, "w-gone", { renewedAgoMs: 7_000 });

    await page.click("#cluster-refresh");
    await page.waitForSelector('#cluster-members tr[data-worker="w-beta"]');
    expect(await page.textContent('#cluster-members tr[data-worker="w-alpha"]'))
      .to.contain("0 1 2 3 4")
      .and.contain("test-host (pid 4242)")
      .and.match(/\)[1-9]\.\d s/);
    expect(await page.textContent('#cluster-members tr[data-worker="w-beta"]')).to.contain("5 6 7 8");

    const shown = await cells();
    const colorOf = (p: number) => /owner-\d/.exec(shown[p]!.classes)?.[0];
    expect(shown.map((c) => c.owner)).to.deep.equal([
      ...Array<string>(5).fill("w-alpha"),
      ...Array<string>(4).fill("w-beta"),
      "w-gone",
      "",
      "",
    ]);
    for (const p of [1, 2, 3, 4]) expect(colorOf(p)).to.equal(colorOf(0));
    for (const p of [6, 7, 8]) expect(colorOf(p)).to.equal(colorOf(5));
    expect(colorOf(0)).to.be.a("string").and.not.equal(colorOf(5));
    expect(colorOf(9)).to.be.a("string").and.not.equal(colorOf(0)).and.not.equal(colorOf(5));
    expect(shown[9]!.classes).to.contain("not-member");
    for (const p of [10, 11])
      expect(shown[p]!.classes)
        .to.contain("unowned")
        .and.not.match(/owner-\d/);
    for (const p of [...Array(10).keys()]) expect(shown[p]!.classes).not.to.contain("unowned");

    expect(await page.textContent("#cluster-status")).to.contain(
      `10 of ${PARTITIONS} partition(s) owned, 2 unowned`,
    );
    expect(await page.textContent("#cluster-notes .not-member")).to.contain("w-gone holds partition(s) 9");
    expect(await page.textContent("#cluster-notes")).to.contain("Last rebalance: w-alpha");
  });

  it("keeps a screenshot of the tab as a test artifact, and the page ran without a script or CSP error", async () => {
    mkdirSync("test-artifacts", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).to.be.greaterThan(0);
    expect(pageProblems).to.deep.equal([]);
  });
});
