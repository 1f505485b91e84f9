// The asynchronous outcomes as a merchant lives them, through the public API only: it registers a
// webhook endpoint (POST /v1/webhook_endpoints, its secret answered once), pays with a 3-D Secure
// card, the shopper passes the challenge at the PSP (the sandbox's own control), the PSP notifies the
// platform, and the merchant's receiver gets payment.requires_action then payment.captured, each
// verified with the official `standardwebhooks` package; an abandoned challenge ends in
// payment.expired with its charge voided; a bolt chargeback reaches the merchant as payment.disputed
// and dispute.closed, its money in the ledger; and GET /v1/events tells the same story to a merchant
// that polls.
import { expect } from "chai";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import {
  CARDS,
  paymentBody,
  sandboxCall,
  startTestPlatform,
  testEnv,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { routeTo } from "../support/routing.ts";
import { waitFor } from "../support/wait.ts";
import { startReceiver, type Receiver } from "../support/webhooks.ts";

type Event = { id: string; type: string; created: string; data: { object: PaymentView } };

describe("a merchant's asynchronous outcomes, end to end (e2e)", function () {
  this.timeout(90_000);
  let platform: TestPlatform;
  let api: Api;
  let receiver: Receiver;
  const secret: { value?: string } = {};

  before(async () => {
    const env = testEnv({
      SWITCHYARD_CHALLENGE_EXPIRY: "2s",
      SWITCHYARD_CHALLENGE_SWEEP: "200ms",
      SWITCHYARD_WEBHOOK_POLL_MS: "100",
    });
    platform = await startTestPlatform({ env });
    api = platform.api(platform.merchants[0]!);
    receiver = await startReceiver(() => secret.value);
    const created = await api.post("/v1/webhook_endpoints", {
      url: receiver.url,
      enabled_events: ["*"],
      description: "journey",
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const body = created.body as unknown as { secret: string };
    expect(body.secret).to.match(/^whsec_/);
    secret.value = body.secret;
  });
  after(async () => {
    await receiver?.close();
    await platform?.cleanup();
  });

  const sandbox = (path: string, body: unknown) => sandboxCall<unknown>(platform, path, body);

  /** The event types the receiver verified for one payment, in arrival order. */
  const received = (paymentId: string): string[] =>
    receiver
      .ok()
      .filter((r) => r.event.data.object.id === paymentId)
      .map((r) => r.event.type);
  const receivedAll = (paymentId: string, types: string[]) =>
    waitFor(() => types.every((t) => received(paymentId).includes(t)), {
      timeoutMs: 20_000,
      what: `${types.join(", ")} for ${paymentId} (got ${received(paymentId).join(", ")})`,
    });

  it("hears a 3-D Secure payment ask for action, then captured once the shopper passed", async () => {
    const res = await api.post("/v1/payments", paymentBody({ number: CARDS.threeDS, capture: "automatic" }));
    const p = res.body;
    expect(p.status).to.equal("requires_action");
    await receivedAll(p.id, ["payment.requires_action"]);
    const challengeId = p.next_action?.url.split("/").at(-1) ?? "";
    expect((await sandbox(`/_sandbox/3ds/${challengeId}`, { result: "approve" })).status).to.equal(200);
    await receivedAll(p.id, ["payment.captured"]);
    expect(received(p.id)).to.deep.equal(["payment.requires_action", "payment.captured"]);
    const captured = receiver.ok().find((r) => r.event.type === "payment.captured")!;
    expect(captured.event.data.object).to.include({
      id: p.id,
      status: "captured",
      captured_amount: p.amount,
    });

    // The merchant that polls reads the same events, in the same order, with the same ids.
    const polled = await api.get(`/v1/events?type=payment.captured&limit=100`);
    expect(polled.status).to.equal(200);
    const events = (polled.body as unknown as { data: Event[] }).data;
    expect(events.map((e) => e.id)).to.include(captured.event.id);
    const one = await api.get(`/v1/events/${captured.event.id}`);
    expect((one.body as unknown as Event).data.object.status).to.equal("captured");
  });

  it("hears an abandoned challenge expire, and no charge is left at the PSP", async () => {
    const p = (await api.post("/v1/payments", paymentBody({ number: CARDS.threeDS }))).body;
    expect(p.status).to.equal("requires_action");
    await receivedAll(p.id, ["payment.requires_action", "payment.expired"]);
    const expired = receiver
      .ok()
      .find((r) => r.event.type === "payment.expired" && r.event.data.object.id === p.id)!;
    expect(expired.event.data.object.status).to.equal("expired");
    await waitFor(() => platform.sandbox!.charges({ reference: p.id })[0]?.status === "voided", {
      timeoutMs: 10_000,
      what: "the expired payment's charge voided at the sandbox",
    });
  });

  it("hears a bolt chargeback opened and closed lost, and sees the disputed money in the ledger", async () => {
    await routeTo(platform, ["bolt", "acme"]);

    const p = (await api.post("/v1/payments", paymentBody({ capture: "automatic" }))).body;
    expect(p.psp).to.equal("bolt");
    const opened = await sandbox("/_sandbox/psps/bolt/disputes", {
      reference: p.id,
      amount: 1000,
      reason: "fraudulent",
    });
    expect(opened.status, JSON.stringify(opened.body)).to.equal(201);
    await receivedAll(p.id, ["payment.disputed"]);
    const disputed = receiver
      .ok()
      .find((r) => r.event.type === "payment.disputed" && r.event.data.object.id === p.id)!;
    expect(disputed.event.data.object.disputes[0]).to.include({
      amount: 1000,
      reason: "fraudulent",
      status: "open",
    });

    const disputeId = (opened.body as { dispute: { id: string } }).dispute.id;
    expect(
      (await sandbox(`/_sandbox/psps/bolt/disputes/${disputeId}/close`, { outcome: "lost" })).status,
    ).to.equal(200);
    await receivedAll(p.id, ["dispute.closed"]);
    expect(received(p.id).slice(-2)).to.deep.equal(["payment.disputed", "dispute.closed"]);

    // The chargeback's money is recovered from the merchant: Cr the PSP's disputes account.
    await waitFor(
      async () => {
        const res = await platform.ops.get<{ accounts: Array<{ account: string; balance: number }> }>(
          "/ops/ledger/trial-balance",
        );
        return res.body.accounts.find((a) => a.account === "psp:bolt:disputes")?.balance === -1000;
      },
      { timeoutMs: 10_000, what: "the disputed 1000 in the trial balance" },
    );
  });
});
