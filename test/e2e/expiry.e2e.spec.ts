// Abandoned 3-D Secure challenges expire, end to end: a payment left in requires_action past
// SWITCHYARD_CHALLENGE_EXPIRY ends `expired` with its charge voided at the PSP (no charge left), one
// completed before the expiry is untouched, and an expiry racing the challenge's completion ends one
// way only — the actor takes the two commands one after the other. The completion is the PSP's
// notification as a RecordNotification command on PAY_CMD (what the notification door sends).
import { expect } from "chai";
import { payCmd, type PayCmd } from "../support/pay-cmd.ts";
import {
  CARDS,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type ApiBody,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

const EXPIRY_MS = 2_000;

type TimelineEvent = { type: string; label: string; notification_id: string | null };

describe("3-D Secure challenges abandoned expire (e2e)", function () {
  this.timeout(40_000);
  let platform: TestPlatform;
  let api: Api;
  let cmd: PayCmd;

  before(async () => {
    const env = testEnv({
      SWITCHYARD_CHALLENGE_EXPIRY: `${EXPIRY_MS}ms`,
      SWITCHYARD_CHALLENGE_SWEEP: "200ms",
    });
    platform = await startTestPlatform({ env });
    api = platform.api(platform.merchants[0]!);
    cmd = await payCmd(env);
  });

  after(async () => {
    await cmd?.close();
    await platform?.cleanup();
  });

  async function challenged(): Promise<ApiBody> {
    const res = await api.post("/v1/payments", paymentBody({ number: CARDS.threeDS }));
    expect(res.body.status).to.equal("requires_action");
    return res.body;
  }

  /** The PSP's notification that the shopper passed the challenge, as the notification door sends it. */
  const notifyAuthorized = (p: ApiBody) => cmd.notify(p, { kind: "authorization", outcome: "authorized" });

  const expireNow = (p: ApiBody) =>
    cmd.send(
      {
        v: 1,
        command: {
          type: "ExpirePayment",
          paymentId: p.id,
          merchantId: p.merchant_id,
          at: new Date().toISOString(),
        },
      },
      `test-expire:${p.id}`,
    );

  async function timeline(id: string): Promise<TimelineEvent[]> {
    const res = await platform.ops.get<{ events: TimelineEvent[] }>(`/ops/payments/${id}/timeline`);
    expect(res.status).to.equal(200);
    return res.body.events;
  }

  async function expiredCount(): Promise<number> {
    const m = platform.metrics.registry.getSingleMetric("switchyard_payments_expired_total");
    return (await m?.get())?.values[0]?.value ?? 0;
  }

  const settledStatus = (id: string, status: string) =>
    waitFor(
      async () => {
        const p = (await api.get(`/v1/payments/${id}`)).body;
        return p.status === status && p.operations.every((o) => o.status !== "pending") && p;
      },
      { timeoutMs: EXPIRY_MS * 5, what: `payment ${id} ${status}` },
    );

  it("expires an abandoned challenge and voids its charge; a challenge completed in time is untouched", async () => {
    const before = await expiredCount();
    const abandoned = await challenged();
    const completed = await challenged();
    await notifyAuthorized(completed);
    await settledStatus(completed.id, "authorized");

    const expired = await settledStatus(abandoned.id, "expired");
    expect(expired.operations.map((o) => [o.id, o.type, o.status])).to.deep.equal([
      ["expiry", "void", "succeeded"],
    ]);
    const charges = platform.sandbox!.charges({ reference: abandoned.id });
    expect(charges.map((c) => c.status)).to.deep.equal(["voided"]);
    expect(await expiredCount()).to.equal(before + 1);
    const events = await timeline(abandoned.id);
    expect(events.map((e) => e.type)).to.include.members(["PaymentExpired", "OperationSucceeded"]);
    expect(events.find((e) => e.type === "PaymentExpired")?.label).to.match(/challenge .* abandoned/);

    // Well past the expiry, the completed payment is still authorized and its charge still held.
    await waitFor(
      async () =>
        (await platform.expiry!.sweep()) === 0 &&
        Date.now() - Date.parse(completed.created_at) > EXPIRY_MS * 1.5,
      { timeoutMs: EXPIRY_MS * 4, what: "a sweep past the completed payment's expiry" },
    );
    const still = (await api.get(`/v1/payments/${completed.id}`)).body;
    expect(still.status).to.equal("authorized");
    expect(still.operations).to.deep.equal([]);
    const authorized = (await timeline(completed.id)).find((e) => e.type === "PaymentAuthorized");
    expect(authorized?.notification_id).to.match(/^ntf_/);
    expect(authorized?.label).to.contain("PSP notification");
  });

  it("serializes an expiry and a completion that arrive together: one of them wins, whole", async () => {
    const expiredFirst = await challenged();
    const completedFirst = await challenged();
    // Both commands on the payment's subject back to back, neither waiting for the other's outcome:
    // the actor takes them one after the other, in the stream's order.
    await expireNow(expiredFirst);
    await notifyAuthorized(expiredFirst);
    await notifyAuthorized(completedFirst);
    await expireNow(completedFirst);

    await settledStatus(expiredFirst.id, "expired");
    await settledStatus(completedFirst.id, "authorized");
    const lost = (await timeline(expiredFirst.id)).map((e) => e.type);
    expect(lost).to.include("PaymentExpired").and.not.include("PaymentAuthorized");
    expect(platform.sandbox!.charges({ reference: expiredFirst.id })[0]?.status).to.equal("voided");
    const won = (await timeline(completedFirst.id)).map((e) => e.type);
    expect(won).to.include("PaymentAuthorized").and.not.include("PaymentExpired");
    expect((await api.get(`/v1/payments/${completedFirst.id}`)).body.operations).to.deep.equal([]);
  });
});
