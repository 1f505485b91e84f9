// An internal service in its own Node process, with nothing of the repository but the package's
// client (`switchyard/client`, resolved through package.json `exports` from a directory outside the
// repository), pays with a card: a token over HTTP, then create → capture → refund over NATS, and
// the payment's events. Its JSON lines are what is asserted.
import { rmSync } from "node:fs";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { startTestPlatform, type TestPlatform } from "../support/platform.ts";
import { NATS_URL } from "../support/infra.ts";
import { runService, serviceDir } from "../support/client-service.ts";

describe("an internal service in its own process, with only switchyard/client", function () {
  this.timeout(90_000);
  let p: TestPlatform;
  let dir: string;

  before(async () => {
    p = await startTestPlatform();
    dir = serviceDir();
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await p?.cleanup();
  });

  it("gets a card token over HTTP, then creates, captures and refunds the payment over NATS and reads its events", async () => {
    const m = p.merchants[0]!;
    const { code, lines, stderr } = await runService(dir, {
      NATS_URL,
      SWITCHYARD_PREFIX: p.env.SWITCHYARD_PREFIX!,
      SWITCHYARD_PARTITIONS: p.env.SWITCHYARD_PARTITIONS!,
      MERCHANT_ID: m.merchantId,
      GATEWAY_URL: p.url,
      API_KEY: m.key,
      CARD_NUMBER: "4242424242424242",
      IDEMPOTENCY_KEY: randomBytes(8).toString("hex"),
      EXPECT_EVENTS: "payment.authorized,payment.captured,refund.succeeded",
    });
    expect(code, `${stderr}\n${JSON.stringify(lines)}`).to.equal(0);
    const step = (s: string) => lines.find((l) => l.step === s);
    expect(step("token")).to.deep.include({ status: 201, last4: "4242" });
    const created = step("created")!;
    expect(created).to.deep.include({ result: "settled", status: "authorized" });
    expect(step("captured")).to.deep.include({ result: "settled", status: "captured" });
    expect(step("refunded")).to.deep.include({
      result: "settled",
      status: "partially_refunded",
      refunded: 1000,
    });
    expect(step("cancel")).to.deep.include({ error: "invalid_state_transition" });
    const events = step("events")!;
    expect(events.types).to.include.members(["payment.authorized", "payment.captured", "refund.succeeded"]);
    // The payment is the merchant's, as the HTTP API shows it.
    const view = await p.api(m).get(`/v1/payments/${created.paymentId as string}`);
    expect(view.body).to.include({ status: "partially_refunded", refunded_amount: 1000 });
  });
});
