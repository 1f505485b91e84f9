// The operators' console in a real browser (Debian's chromium, headless, via playwright-core)
// against the whole platform: the page and its assets are served with a strict CSP and nothing
// outside their folder; a wrong key is refused; the right one lives in sessionStorage only; an
// operator finds a payment by reference, by its id or a PSP reference, and reads its timeline in
// order, reads each PSP's p95 latency in whole milliseconds, forces a PSP out and back
// in, sees a payment's disputes, and resolves one stuck payment and requeries another, which the merchant API then agrees with. A screenshot of the
// page is kept in test-artifacts/console.png.
import { mkdirSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../support/browser.ts";
import {
  OPERATOR_KEY,
  paymentBody,
  startTestPlatform,
  testEnv,
  type TestPlatform,
} from "../support/platform.ts";
import { payCmd } from "../support/pay-cmd.ts";
import { rawRequest } from "../support/raw-http.ts";
import { waitFor } from "../support/wait.ts";

const SCREENSHOT = "test-artifacts/console.png";

type Timeline = { events: Array<{ seq: number; type: string }> };
type TimelineData = { events: Array<{ type: string; data: { pspReference?: string } }> };
type PspList = { psps: Array<{ name: string; rotation: { in: boolean; reason: string | null } }> };

describe("console: the operators' page in a real browser (e2e)", function () {
  this.timeout(90_000);
  let platform: TestPlatform;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Script errors and CSP refusals the page ran into (a 401 the login provokes is not one). */
  const pageProblems: string[] = [];

  before(async () => {
    platform = await startTestPlatform({
      // A lost PSP answer dead-letters after two deliveries and nothing settles it on its own:
      // the payment stays stuck until an operator acts.
      env: testEnv({ SWITCHYARD_COMMAND_MAX_DELIVER: "2", SWITCHYARD_JANITOR_AFTER_MS: "3600000" }),
    });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource"))
        pageProblems.push(`console: ${msg.text()}`);
    });
  });
  after(async () => {
    await browser?.close();
    await platform?.cleanup();
  });

  const alpha = () => platform.api(platform.merchants[0]!);

  it("serves the page and its assets with their types, a strict CSP, and no file outside its folder", async () => {
    const res = await fetch(`${platform.url}/console`);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.equal("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).to.contain(
      "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    );
    expect(res.headers.get("x-content-type-options")).to.equal("nosniff");
    expect(res.headers.get("referrer-policy")).to.equal("no-referrer");
    expect(res.headers.get("cache-control")).to.equal("no-cache");
    const etag = res.headers.get("etag")!;
    const again = await fetch(`${platform.url}/console`, { headers: { "if-none-match": etag } });
    expect(again.status).to.equal(304);

    const js = await fetch(`${platform.url}/console/assets/console.js`);
    expect(js.headers.get("content-type")).to.equal("text/javascript; charset=utf-8");
    const css = await fetch(`${platform.url}/console/assets/console.css`);
    expect(css.headers.get("content-type")).to.equal("text/css; charset=utf-8");

    const missing = await fetch(`${platform.url}/console/assets/nope.js`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).to.equal("not_found");
    // fetch would normalize these paths away: sent as they are.
    for (const path of [
      "/console/assets/../../package.json",
      "/console/assets/..%2F..%2Fpackage.json",
      "/console/assets/%2e%2e%2f%2e%2e%2fpackage.json",
      "/console/assets/..%5c..%5cpackage.json",
    ]) {
      const raw = await rawRequest(platform.url, `GET ${path} HTTP/1.1\r\nHost: x`);
      expect(raw.status, path).to.equal(404);
      expect(raw.body, path).not.to.contain('"name": "switchyard"');
    }
  });

  it("refuses a wrong key with a message and keeps the right one out of the URL and localStorage", async () => {
    await page.goto(`${platform.url}/console`);
    await page.fill("#key", `op_wrong_${randomBytes(6).toString("hex")}`);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("#login-error.error");
    expect(await page.textContent("#login-error")).to.contain("unauthorized");
    expect(await page.isHidden("#app")).to.equal(true);

    await page.fill("#key", OPERATOR_KEY);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("#app:not([hidden])");
    expect(page.url()).not.to.contain(OPERATOR_KEY);
    expect(page.url()).to.equal(`${platform.url}/console`);
    // Evaluated in the page (the test's own types have no DOM).
    const storage = {
      local: await page.evaluate<string>("JSON.stringify({ ...localStorage })"),
      session: await page.evaluate<string>("JSON.stringify({ ...sessionStorage })"),
    };
    expect(storage.local).not.to.contain(OPERATOR_KEY);
    expect(storage.session).to.contain(OPERATOR_KEY);
    // A reload keeps the session (same tab): no second login.
    await page.reload();
    await page.waitForSelector("#app:not([hidden])");
  });

  it("shows each PSP's health and forces one out of rotation and back in, with a reason", async () => {
    await page.click('#tabs button[data-tab="psps"]');
    const row = 'tr[data-psp="bolt"]';
    await page.waitForSelector(`#psps-list ${row}`);
    await page.fill(`${row} input[name=reason]`, "console test: maintenance window");
    await page.click(`${row} button.rotate-out`);
    await page.waitForSelector(`${row} button.rotate-in`);
    expect(await page.textContent(row)).to.contain("maintenance window");
    let bolt = (await platform.ops.get<PspList>("/ops/psps")).body.psps.find((p) => p.name === "bolt")!;
    expect(bolt.rotation).to.include({ in: false, reason: "console test: maintenance window" });

    await page.fill(`${row} input[name=reason]`, "console test: back");
    await page.click(`${row} button.rotate-in`);
    await page.waitForSelector(`${row} button.rotate-out`);
    bolt = (await platform.ops.get<PspList>("/ops/psps")).body.psps.find((p) => p.name === "bolt")!;
    expect(bolt.rotation.in).to.equal(true);
  });

  it("shows the active policies and the reconciliation queue without an error", async () => {
    await page.click('#tabs button[data-tab="policies"]');
    await page.waitForSelector("#policies-list table");
    expect(await page.textContent("#policies-list")).to.contain("routing");
    expect(await page.getAttribute("#policies-status", "class")).not.to.contain("error");
    await page.click('#tabs button[data-tab="reconciliation"]');
    await waitFor(async () => ((await page.textContent("#reconciliation-status")) ?? "").includes("."), {
      timeoutMs: 5_000,
      what: "the reconciliation tab to load",
    });
    expect(await page.getAttribute("#reconciliation-status", "class")).not.to.contain("error");
  });

  it("finds a payment by reference and shows its events in order", async () => {
    const reference = `console-${randomBytes(4).toString("hex")}`;
    const created = await alpha().post("/v1/payments", { ...paymentBody({ amount: 4321 }), reference });
    expect(created.status).to.equal(201);
    const id = created.body.id;
    await waitFor(
      async () => {
        const r = await platform.ops.get<{ payments: Array<{ id: string }> }>(
          `/ops/payments?reference=${reference}`,
        );
        return r.body.payments?.some((p) => p.id === id);
      },
      { timeoutMs: 10_000, what: "the payment in the read model" },
    );

    await page.click('#tabs button[data-tab="payments"]');
    await page.fill("#search-form [name=reference]", reference);
    await page.click("#search-form button[type=submit]");
    const row = `#search-results tr[data-payment-id="${id}"]`;
    await page.waitForSelector(row);
    expect(await page.textContent(row)).to.contain("4321 EUR");
    await page.click(row);
    await page.waitForSelector(`#timeline-panel[data-payment-id="${id}"]`);

    const shown = await page.locator("#timeline-panel table.events .event-type").allTextContents();
    const timeline = (await platform.ops.get<Timeline>(`/ops/payments/${id}/timeline`)).body;
    const expected = [...timeline.events].sort((a, b) => a.seq - b.seq).map((e) => e.type);
    expect(shown).to.deep.equal(expected);
    expect(shown[0]).to.equal("PaymentCreated");
    expect(shown).to.include("PaymentAuthorized");
    expect(shown.indexOf("PaymentCreated")).to.be.lessThan(shown.indexOf("PaymentAuthorized"));
    expect(await page.textContent("#timeline-status")).to.equal("authorized");
  });

  it("finds a payment by its id or a PSP reference pasted into the search, and opens it", async () => {
    const reference = `by-id-${randomBytes(4).toString("hex")}`;
    const created = await alpha().post("/v1/payments", { ...paymentBody({ amount: 5432 }), reference });
    expect(created.status).to.equal(201);
    const id = created.body.id;
    const authorization = created.body.attempts[0]!.psp_reference!;
    const captured = await alpha().post(`/v1/payments/${id}/capture`, { amount: 5000 });
    expect(captured.body.status).to.equal("captured");
    await platform.readModels!.caughtUp("payments");
    const timeline = (await platform.ops.get<TimelineData>(`/ops/payments/${id}/timeline`)).body;
    const capture = timeline.events.find((e) => e.type === "OperationSucceeded")?.data.pspReference;
    expect(capture).to.be.a("string");

    await page.click('#tabs button[data-tab="payments"]');
    await page.fill("#search-form [name=reference]", "");
    // What the last search left on the page is wiped first, so each wait sees this search's answer.
    const search = async (q: string) => {
      await page.evaluate(
        "document.getElementById('search-status').textContent = ''; document.getElementById('timeline').replaceChildren()",
      );
      await page.fill("#search-form [name=q]", q);
      await page.click("#search-form button[type=submit]");
    };
    for (const pasted of [id, ` ${id} `, authorization, capture!]) {
      await search(pasted);
      await page.waitForSelector(`#search-status:text-is("1 payment(s).")`, { timeout: 10_000 });
      const rows = await page
        .locator("#search-results tbody tr")
        .evaluateAll((trs) =>
          trs.map((tr) => (tr as unknown as { dataset: { paymentId: string } }).dataset.paymentId),
        );
      expect(rows, pasted).to.deep.equal([id]);
      // One payment found: its timeline opens.
      await page.waitForSelector(`#timeline-panel[data-payment-id="${id}"]`);
    }
    await search(`pay_${randomBytes(8).toString("hex")}`);
    await page.waitForSelector(`#search-status:text-is("0 payment(s).")`);
    await page.fill("#search-form [name=q]", "");
  });

  it("shows each PSP's p95 latency rounded to the millisecond, with its unit", async () => {
    type Health = {
      psps: Array<{ name: string; health: { workers: Array<{ latency_ms: { p95: number | null } }> } }>;
    };
    await waitFor(
      async () =>
        (await platform.ops.get<Health>("/ops/psps")).body.psps
          .find((p) => p.name === "acme")
          ?.health.workers.some((w) => (w.latency_ms.p95 ?? 0) > 0),
      { timeoutMs: 10_000, what: "a worker's report of acme's latency" },
    );
    await page.click('#tabs button[data-tab="payments"]');
    await page.click('#tabs button[data-tab="psps"]');
    await page.waitForSelector('#psps-list tr[data-psp="acme"]');
    const headers = await page.locator("#psps-list table.psps thead th").allTextContents();
    const column = headers.findIndex((h) => h.includes("p95"));
    expect(column, headers.join(" | ")).to.be.greaterThan(-1);
    // The row of an earlier visit to the tab may still be on the page while the click's fetch is out:
    // wait for the cell the new answer renders (the API reports a latency by now), then read it.
    const selector = `#psps-list tr[data-psp="acme"] td:nth-child(${column + 1})`;
    await page
      .waitForFunction(
        `document.querySelector(${JSON.stringify(selector)})?.textContent !== "—"`,
        undefined,
        {
          timeout: 10_000,
        },
      )
      .catch(() => undefined);
    const cell = await page.textContent(selector);
    expect(cell).to.match(/^(\d+|< 1) ms$/);
  });

  it("shows a payment's disputes in its timeline, and offers the expired status to search", async () => {
    const reference = `disputed-${randomBytes(4).toString("hex")}`;
    const created = await alpha().post("/v1/payments", {
      ...paymentBody({ amount: 3100, capture: "automatic" }),
      reference,
    });
    expect(created.body.status).to.equal("captured");
    const cmd = await payCmd(platform.env);
    try {
      await cmd.notify(created.body, {
        kind: "dispute_opened",
        disputeId: "dp_console",
        amount: 3100,
        currency: "EUR",
        reason: "fraudulent",
      });
    } finally {
      await cmd.close();
    }
    const id = created.body.id;
    await waitFor(async () => (await alpha().get(`/v1/payments/${id}`)).body.disputes?.length === 1, {
      timeoutMs: 10_000,
      what: "the dispute recorded",
    });
    await platform.readModels!.caughtUp("payments");

    await page.click('#tabs button[data-tab="payments"]');
    const options = await page.locator("#search-form [name=status] option").allTextContents();
    expect(options).to.include("expired");
    await page.fill("#search-form [name=reference]", reference);
    await page.click("#search-form button[type=submit]");
    await page.click(`#search-results tr[data-payment-id="${id}"]`);
    await page.waitForSelector(`#timeline-panel[data-payment-id="${id}"] #timeline-disputes table.disputes`);
    const row = await page.textContent("#timeline-disputes table.disputes tbody tr");
    expect(row).to.contain("dp_console").and.contain("3100 EUR").and.contain("fraudulent");
    expect(await page.textContent("#timeline-disputes .dispute-status")).to.equal("open");
    const labels = await page.locator("#timeline-panel table.events td:nth-child(5)").allTextContents();
    expect(labels).to.include(`dispute dp_console opened at ${created.body.psp}: 3100 EUR, fraudulent`);
  });

  /**
   * Payments whose authorization outcome is unknown: acme charged them, its answers were lost.
   * acme stays faulty (so nothing settles them) until the caller resets it.
   */
  async function stuckPayments(count: number): Promise<string[]> {
    platform.sandbox!.setBehaviour("acme", { fault: "http_500" });
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await alpha().post("/v1/payments", paymentBody({ amount: 7700 + i }));
      expect(res.status).to.equal(202);
      ids.push(res.body.id);
    }
    // Dead-lettered after their retries: nothing else will touch them.
    await waitFor(
      async () => {
        const dl = await platform.ops.get<{ dead_letters: Array<{ reason: string; command: unknown }> }>(
          "/ops/dead-letters",
        );
        const dead = dl.body.dead_letters.filter((d) => d.reason === "retries_exhausted");
        return ids.every((id) => dead.some((d) => JSON.stringify(d.command).includes(id)));
      },
      { timeoutMs: 20_000, what: "the create commands dead-lettered after their retries" },
    );
    for (const id of ids)
      expect((await alpha().get(`/v1/payments/${id}`)).body.attempts.map((a) => a.status)).to.deep.equal([
        "unknown",
      ]);
    return ids;
  }

  it("resolves one stuck payment and requeries another, with a reason; the page shows their new status and the merchant API agrees", async () => {
    const [resolved, requeried] = (await stuckPayments(2).catch((err: unknown) => {
      platform.sandbox!.resetBehaviour("acme");
      throw err;
    })) as [string, string];
    const rowOf = (id: string) => `#stuck-list tr[data-payment-id="${id}"]`;
    try {
      await page.click('#tabs button[data-tab="stuck"]');
      await page.fill("#stuck-form [name=older_than_s]", "0");
      await page.click("#stuck-form button[type=submit]");
      await page.waitForSelector(rowOf(resolved), { timeout: 10_000 });
      await page.waitForSelector(rowOf(requeried));
      expect(await page.textContent(rowOf(resolved))).to.contain("acme");

      // No reason, no call.
      const row = rowOf(resolved);
      await page.click(`${row} button.resolve`);
      expect(await page.textContent(`${row} .result`)).to.contain("reason is required");
      // acme still answers nothing; the operator confirmed the charge on its dashboard.
      const charge = platform.sandbox!.charges({ reference: resolved })[0]!;
      await page.fill(`${row} input[name=reason]`, "console test: confirmed on acme's dashboard");
      await page.selectOption(`${row} select[name=outcome]`, "authorized");
      await page.fill(`${row} input[name=psp_reference]`, charge.id);
      await page.click(`${row} button.resolve`);
      await page.waitForSelector(`${row} .result[data-status]`, { timeout: 15_000 });
      expect(await page.getAttribute(`${row} .result`, "data-status")).to.equal("authorized");
      expect((await alpha().get(`/v1/payments/${resolved}`)).body.status).to.equal("authorized");

      // Resolving it again is refused by the decider, and the page says so.
      await page.selectOption(`${row} select[name=outcome]`, "failed");
      await page.click(`${row} button.resolve`);
      await page.waitForSelector(`${row} .result.error`, { timeout: 15_000 });
      expect(await page.textContent(`${row} .result`)).to.contain("invalid_state_transition");
      expect((await alpha().get(`/v1/payments/${resolved}`)).body.status).to.equal("authorized");
    } finally {
      platform.sandbox!.resetBehaviour("acme");
    }

    // acme answers again: asking it settles the other payment.
    const row = rowOf(requeried);
    await page.fill(`${row} input[name=reason]`, "console test: acme is answering again");
    await page.click(`${row} button.requery`);
    await page.waitForSelector(`${row} .result[data-status]`, { timeout: 15_000 });
    expect(await page.getAttribute(`${row} .result`, "data-status")).to.equal("authorized");
    expect((await alpha().get(`/v1/payments/${requeried}`)).body.status).to.equal("authorized");
    expect(platform.sandbox!.charges({ reference: requeried })).to.have.length(1);
  });

  it("keeps a screenshot of the console as a test artifact, and the page ran without a script or CSP error", async () => {
    mkdirSync("test-artifacts", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).to.be.greaterThan(0);
    expect(pageProblems).to.deep.equal([]);
  });

  it("logs out: the key leaves the tab's storage and the login form is back", async () => {
    await page.click("#logout");
    await page.waitForSelector("#login:not([hidden])");
    const session = await page.evaluate<string>("JSON.stringify({ ...sessionStorage })");
    expect(session).not.to.contain(OPERATOR_KEY);
  });
});
