// PSP notifications end to end: the sandbox's PSPs notify the platform's door (POST
// /webhooks/psp/:psp) signed their own way, and payments move on what comes after the call — a 3-D
// Secure challenge completed, an asynchronous refund ended. A forged notification is refused and
// counted and its payment asks the PSP instead; a replayed one changes nothing. Chargebacks:
// psp-notifications-disputes.e2e.spec.ts; a gateway's door without notification secrets, or behind
// basic auth: psp-notifications-secrets.e2e.spec.ts.
import { expect } from "chai";
import { startTestPlatform, type Api, type TestPlatform } from "../support/platform.ts";
import { pspNotices } from "../support/psp-notices.ts";
import { waitFor } from "../support/wait.ts";

describe("PSP notifications: payments (e2e)", function () {
  this.timeout(60_000);
  let platform: TestPlatform;
  let api: Api;

  before(async () => {
    platform = await startTestPlatform();
    api = platform.api(platform.merchants[0]!);
  });
  after(async () => {
    await platform?.cleanup();
  });

  const { sandbox, pay, challenge, until, notices, counted } = pspNotices(() => ({ platform, api }));

  it("approves a 3-D Secure challenge without a browser: the notification authorizes and captures", async () => {
    const { p, challengeId } = await challenge("automatic");
    const done = await sandbox<{ status: string; notification: { delivery: string } }>(
      `/_sandbox/3ds/${challengeId}`,
      {
        result: "approve",
      },
    );
    expect(done.status).to.equal(200);
    expect(done.body.status).to.equal("captured");
    const after = await until(p.id, "captured", (x) => x.status === "captured");
    expect(after.captured_amount).to.equal(2500);
    const sent = await waitFor(async () => (await notices(p.id)).find((n) => n.delivery === "delivered"), {
      timeoutMs: 10_000,
      what: "the notification delivered",
    });
    expect(sent.type).to.equal("payment_intent.succeeded");
  });

  it("declines a payment whose shopper fails the challenge, and refuses to complete it twice", async () => {
    const { p, challengeId } = await challenge();
    expect((await sandbox(`/_sandbox/3ds/${challengeId}`, { result: "fail" })).status).to.equal(200);
    const after = await until(p.id, "declined", (x) => x.status === "declined");
    expect(after.decline_code).to.equal("authentication_required");
    expect((await sandbox(`/_sandbox/3ds/${challengeId}`, { result: "approve" })).status).to.equal(409);
  });

  it("completes an asynchronous refund by its notification, and records one that fails", async () => {
    await sandbox("/_sandbox/psps/acme/behaviour", { asyncRefunds: true });
    try {
      const p = await pay({ capture: "automatic" });
      const refund = await api.post(`/v1/payments/${p.id}/refunds`, { amount: 1000 });
      expect(refund.body.operations.at(-1)?.status).to.equal("accepted");
      const done = await until(p.id, "refund succeeded", (x) => x.operations.at(-1)?.status === "succeeded");
      expect(done.refunded_amount).to.equal(1000);

      await sandbox("/_sandbox/psps/acme/behaviour", { refundsFail: true });
      const q = await pay({ capture: "automatic" });
      await api.post(`/v1/payments/${q.id}/refunds`, {});
      const failed = await until(q.id, "refund failed", (x) => x.operations.at(-1)?.status === "failed");
      expect(failed.refunded_amount).to.equal(0);
      expect(failed.status).to.equal("captured");
    } finally {
      await fetch(`${platform.sandbox!.url}/_sandbox/psps/acme/behaviour`, { method: "DELETE" });
    }
  });

  it("refuses a forged notification (401, counted), changes nothing by it, and asks the PSP instead", async () => {
    const { p, challengeId } = await challenge();
    // The shopper approves, but the PSP's real notification is held back: only the forgery arrives.
    const held = await sandbox<{ notification: { id: string; delivery: string } }>(
      `/_sandbox/3ds/${challengeId}`,
      {
        result: "approve",
        notify: false,
      },
    );
    expect(held.body.notification.delivery).to.equal("withheld");
    const before = await counted("acme", "bad_signature");
    const forged = await sandbox<{ id: string }>("/_sandbox/psps/acme/notifications/forge", {
      id: held.body.notification.id,
    });
    expect(forged.status).to.equal(200);
    const attempt = await waitFor(
      async () => (await notices(p.id)).find((n) => n.forged && n.attempts.length > 0),
      { timeoutMs: 10_000, what: "the forgery sent" },
    );
    expect(attempt.delivery).to.equal("failed");
    expect(attempt.attempts[0]).to.deep.include({ status: 401 });
    expect(await counted("acme", "bad_signature")).to.equal(before + 1);
    // The payment asked acme for the challenge's result and took acme's word for it.
    const after = await until(p.id, "authorized by the status query", (x) => x.status === "authorized");
    const events = await platform.worker!.journal.history(p.id);
    const authorized = events.find((e) => e.type === "PaymentAuthorized");
    expect(authorized && "notificationId" in authorized ? authorized.notificationId : undefined).to.equal(
      undefined,
    );
    expect(after.psp).to.equal("acme");
  });

  it("takes a replayed notification harmlessly: no new event, counted as a duplicate", async () => {
    const { p, challengeId } = await challenge();
    const done = await sandbox<{ notification: { id: string } }>(`/_sandbox/3ds/${challengeId}`, {
      result: "approve",
    });
    await until(p.id, "authorized", (x) => x.status === "authorized");
    const events = (await platform.worker!.journal.history(p.id)).length;
    const duplicates = await counted("acme", "duplicate");
    const replay = await sandbox<{ id: string }>("/_sandbox/psps/acme/notifications/replay", {
      id: done.body.notification.id,
    });
    expect(replay.status).to.equal(200);
    await waitFor(async () => (await counted("acme", "duplicate")) === duplicates + 1, {
      timeoutMs: 10_000,
      what: "the replay counted as a duplicate",
    });
    expect((await platform.worker!.journal.history(p.id)).length).to.equal(events);
    expect((await api.get(`/v1/payments/${p.id}`)).body.status).to.equal("authorized");
  });
});
