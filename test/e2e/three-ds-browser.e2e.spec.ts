// The 3-D Secure challenge page in a real browser (Debian's chromium, headless, via playwright-core):
// a payment with a return_url needs action, the shopper opens the PSP's page, clicks approve and
// lands back on the shop; the payment is authorized by the PSP's notification. Also the door's
// refusals of bad requests (not JSON, huge, wrong content type, missing signature, unknown PSP).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import type { Browser } from "playwright-core";
import { launchChromium } from "../support/browser.ts";
import { CARDS, paymentBody, startTestPlatform, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

describe("3-D Secure challenge page and the notification door (e2e)", function () {
  this.timeout(90_000);
  let platform: TestPlatform;
  let browser: Browser;
  let shop: Server;
  let shopUrl: string;

  before(async () => {
    shop = createServer((_req, res) =>
      res.writeHead(200, { "content-type": "text/html" }).end("<p>thanks</p>"),
    );
    await new Promise<void>((resolve) => shop.listen(0, "127.0.0.1", resolve));
    shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}/back`;
    platform = await startTestPlatform();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await platform?.cleanup();
    await new Promise((resolve) => shop?.close(resolve));
  });

  const alpha = () => platform.api(platform.merchants[0]!);

  it("takes the shopper through the challenge page to the return_url, and the payment is authorized", async () => {
    const base = paymentBody({ number: CARDS.threeDS });
    const body = { ...base, payment_method: { ...base.payment_method, return_url: shopUrl } };
    const created = await alpha().post("/v1/payments", body);
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body.status).to.equal("requires_action");
    const page = await browser.newPage();
    try {
      const res = await page.goto(created.body.next_action!.url);
      expect(res?.status()).to.equal(200);
      expect(res?.headers()["content-security-policy"]).to.include("default-src 'none'");
      await page.click("#approve");
      await page.waitForURL(shopUrl);
      expect(page.url()).to.equal(shopUrl);
    } finally {
      await page.close();
    }
    const after = await waitFor(
      async () => {
        const p = (await alpha().get(`/v1/payments/${created.body.id}`)).body;
        return p.status === "authorized" ? p : undefined;
      },
      { timeoutMs: 15_000, what: "the payment authorized" },
    );
    expect(after.captured_amount).to.equal(0);
  });

  it("refuses return_urls that are not https (or http to localhost)", async () => {
    for (const url of [
      "http://shop.example/back",
      "javascript:alert(1)",
      `https://x.example/${"a".repeat(2100)}`,
    ]) {
      const base = paymentBody({ number: CARDS.threeDS });
      const res = await alpha().post("/v1/payments", {
        ...base,
        payment_method: { ...base.payment_method, return_url: url },
      });
      expect(res.status, url).to.equal(400);
    }
  });

  it("refuses bad requests at the door with a code, and counts the unverifiable ones", async () => {
    const door = (
      psp: string,
      body: string,
      headers: Record<string, string> = { "content-type": "application/json" },
    ) => fetch(`${platform.url}/webhooks/psp/${psp}`, { method: "POST", headers, body });
    const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

    let res = await door("nopsp", "{}");
    expect([res.status, await codeOf(res)]).to.deep.equal([404, "psp_not_found"]);
    res = await door("acme", "not json");
    expect([res.status, await codeOf(res)]).to.deep.equal([401, "notification_signature_invalid"]);
    res = await door("bolt", "not json");
    expect([res.status, await codeOf(res)]).to.deep.equal([400, "notification_malformed"]);
    res = await door("bolt", "{}", { "content-type": "text/plain" });
    expect([res.status, await codeOf(res)]).to.deep.equal([415, "unsupported_media_type"]);
    res = await door("bolt", `{"pad":"${"x".repeat(300 * 1024)}"}`);
    expect([res.status, await codeOf(res)]).to.deep.equal([413, "payload_too_large"]);
    res = await door("acme", '{"id":"evt_1","object":"event"}', {
      "content-type": "application/json",
      "acme-signature": "t=1,v1=" + "0".repeat(64),
    });
    expect([res.status, await codeOf(res)]).to.deep.equal([401, "notification_signature_invalid"]);
    const metrics = await (await fetch(`${platform.url}/metrics`)).text();
    expect(metrics).to.match(/switchyard_psp_notifications_total\{psp="acme",outcome="bad_signature"\} 2/);
    expect(metrics).to.match(/switchyard_psp_notifications_total\{psp="bolt",outcome="malformed"\} 1/);
  });
});
