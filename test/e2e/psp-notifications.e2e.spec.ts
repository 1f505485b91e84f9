// PSP notifications end to end: the sandbox's PSPs notify the platform's door (POST
// /webhooks/psp/:psp) signed their own way, and payments move on what comes after the call — a 3-D
// Secure challenge completed, an asynchronous refund ended, a chargeback opened and closed. A forged
// notification is refused and counted and its payment asks the PSP instead; a replayed one changes
// nothing; one for a payment that does not exist is kept for operators.
import { randomBytes } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import pino from "pino";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import { DEV_NOTIFICATION_SECRETS, loadConfig } from "../../config/env.ts";
import { createMetrics } from "../../config/metrics.ts";
import { startGatewayRole } from "../../gateway/role.ts";
import { acmeSigner, boltSigner, type Notice } from "../../scripts/sandbox/notices.ts";
import type { Charge } from "../../scripts/sandbox/simulator.ts";
import { openInfra } from "../../streams/infra.ts";
import { ProcessedNotifications } from "../../streams/processed-notifications.ts";
import { NATS_URL } from "../support/infra.ts";
import {
  CARDS,
  paymentBody,
  sandboxCall,
  startTestPlatform,
  untilPayment,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { routeTo } from "../support/routing.ts";
import { waitFor } from "../support/wait.ts";

type Sent = { id: string; psp: string; type: string; delivery: string; forged: boolean; attempts: unknown[] };

describe("PSP notifications (e2e)", function () {
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

  const sandbox = <T>(path: string, body?: unknown) => sandboxCall<T>(platform, path, body);
  const pay = async (overrides: Parameters<typeof paymentBody>[0] = {}): Promise<PaymentView> => {
    const res = await api.post("/v1/payments", paymentBody(overrides));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  };
  const challenge = async (capture = "manual") => {
    const p = await pay({ number: CARDS.threeDS, capture });
    expect(p.status).to.equal("requires_action");
    const url = p.next_action?.url ?? "";
    return { p, challengeId: url.split("/").at(-1)! };
  };
  const until = (id: string, what: string, ok: (p: PaymentView) => boolean) =>
    untilPayment(api, id, what, ok);
  const notices = async (reference: string) =>
    (await sandbox<{ notifications: Sent[] }>(`/_sandbox/notifications?reference=${reference}`)).body
      .notifications;
  const counted = async (psp: string, outcome: string): Promise<number> => {
    const text = await (await fetch(`${platform.url}/metrics`)).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`switchyard_psp_notifications_total{psp="${psp}",outcome="${outcome}"}`));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };

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

  it("opens a chargeback on a bolt payment and closes it won, another lost", async () => {
    await routeTo(platform, ["bolt", "acme"]);

    for (const outcome of ["won", "lost"] as const) {
      const p = await pay({ capture: "automatic" });
      expect(p.psp).to.equal("bolt");
      const opened = await sandbox<{ dispute: { id: string } }>("/_sandbox/psps/bolt/disputes", {
        reference: p.id,
        amount: 1500,
        reason: "fraudulent",
      });
      expect(opened.status, JSON.stringify(opened.body)).to.equal(201);
      const disputed = await until(p.id, "dispute open", (x) => x.disputes.length === 1);
      expect(disputed.disputes[0]).to.deep.include({ amount: 1500, currency: "EUR", status: "open" });
      const closed = await sandbox(`/_sandbox/psps/bolt/disputes/${opened.body.dispute.id}/close`, {
        outcome,
      });
      expect(closed.status).to.equal(200);
      const after = await until(p.id, `dispute ${outcome}`, (x) => x.disputes[0]?.status === outcome);
      expect(after.status).to.equal("captured");
    }
  });

  it("takes acme's chargebacks too (Stripe-style charge.dispute events), won", async () => {
    await routeTo(platform, ["acme", "bolt"]);
    const p = await pay({ capture: "automatic" });
    expect(p.psp).to.equal("acme");
    const opened = await sandbox<{ dispute: { id: string } }>("/_sandbox/psps/acme/disputes", {
      reference: p.id,
      amount: 700,
      reason: "product_not_received",
    });
    expect(opened.status, JSON.stringify(opened.body)).to.equal(201);
    const disputed = await until(p.id, "acme dispute open", (x) => x.disputes.length === 1);
    expect(disputed.disputes[0]).to.deep.include({ psp: "acme", amount: 700, status: "open" });
    const closed = await sandbox(`/_sandbox/psps/acme/disputes/${opened.body.dispute.id}/close`, {
      outcome: "won",
    });
    expect(closed.status).to.equal(200);
    await until(p.id, "acme dispute won", (x) => x.disputes[0]?.status === "won");
    await routeTo(platform, ["bolt", "acme"]);
  });

  it("keeps a verified notification for a payment that does not exist, for operators", async () => {
    const p = await pay({ capture: "automatic" });
    // A charge the platform never made: its reference names no payment.
    const opened = await sandbox<{ dispute: { id: string } }>("/_sandbox/psps/bolt/disputes", {
      pspReference: p.attempts[0]!.psp_reference,
    });
    expect(opened.status).to.equal(201);
    await until(p.id, "dispute open", (x) => x.disputes.length === 1);
    // Now an acme refund notification for a payment id nobody created, signed correctly.
    const unknown = "pay_doesnotexist123";
    const before = await counted("bolt", "unmatched");
    const res = await fetch(`${platform.url}/webhooks/psp/bolt`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: boltNotice(unknown),
    });
    expect(res.status).to.equal(200);
    expect(await res.text()).to.equal("[accepted]");
    expect(await counted("bolt", "unmatched")).to.equal(before + 1);
    const kept = await platform.ops.get<{
      notifications: Array<{ payment_reference: string; kind: string }>;
    }>("/ops/notifications?unmatched=true");
    expect(kept.status).to.equal(200);
    expect(kept.body.notifications.map((n) => n.payment_reference)).to.include(unknown);
  });

  /** A correctly signed bolt chargeback notification naming `reference`. */
  function boltNotice(reference: string): string {
    const charge = { ...platform.sandbox!.charges({ psp: "bolt" })[0]!, reference };
    return signedDispute(charge, { id: "dp_unknown", amount: 100 }).body;
  }

  /** A chargeback on `charge` as bolt would sign and send it (the development key the platform uses). */
  function signedDispute(charge: Charge, d: { id: string; amount: number; currency?: string }): Notice {
    const dispute = {
      id: d.id,
      amount: d.amount,
      currency: d.currency ?? "EUR",
      reason: "fraudulent",
      status: "open" as const,
      openedAt: new Date().toISOString(),
    };
    return boltSigner(DEV_NOTIFICATION_SECRETS.boltHmacKey).notice(
      { kind: "dispute_opened", charge, dispute },
      new Date(),
    );
  }
  const door = (psp: string, body: string, headers: Record<string, string> = {}, url = platform.url) =>
    fetch(`${url}/webhooks/psp/${psp}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
  const boltPayment = async (amount = 2500) => {
    await routeTo(platform, ["bolt", "acme"]);
    const p = await pay({ capture: "automatic", amount });
    expect(p.psp).to.equal("bolt");
    const charge = platform.sandbox!.charges({ reference: p.id })[0]!;
    return { p, charge };
  };
  /** The same bolt body with its items' additionalData edited: the HMAC does not cover it. */
  const withAdditional = (body: string, extra: Record<string, string>) => {
    const batch = JSON.parse(body) as {
      notificationItems: Array<{ NotificationRequestItem: { additionalData: Record<string, string> } }>;
    };
    for (const w of batch.notificationItems)
      w.NotificationRequestItem.additionalData = { ...w.NotificationRequestItem.additionalData, ...extra };
    return JSON.stringify(batch);
  };

  describe("forged and replayed chargebacks (bolt signs eight fields, no timestamp)", () => {
    let nc: NatsConnection;
    let processed: ProcessedNotifications;
    before(async () => {
      nc = await connect({ servers: NATS_URL });
      processed = await new ProcessedNotifications(jetstream(nc), platform.env.SWITCHYARD_PREFIX!).ensure();
    });
    after(async () => {
      await nc?.close();
    });

    it("opens one dispute for one signed chargeback, whatever unsigned fields a replay edits", async () => {
      const { p, charge } = await boltPayment(6000);
      const genuine = signedDispute(charge, { id: "dp_genuine", amount: 6000 });
      const first = await door("bolt", genuine.body);
      expect(first.status).to.equal(200);
      await until(p.id, "dispute open", (x) => x.disputes.length === 1);
      const duplicates = await counted("bolt", "duplicate");
      for (const ref of ["dp_copy_1", "dp_copy_2", "dp_copy_3"]) {
        const res = await door("bolt", withAdditional(genuine.body, { disputePspReference: ref }));
        expect(res.status).to.equal(200);
      }
      const won = await door("bolt", withAdditional(genuine.body, { disputeStatus: "Won" }));
      expect(won.status).to.equal(200);
      expect(await counted("bolt", "duplicate")).to.equal(duplicates + 4);
      const after = (await api.get(`/v1/payments/${p.id}`)).body;
      expect(after.disputes.map((d) => [d.id, d.amount, d.status])).to.deep.equal([
        ["dp_genuine", 6000, "open"],
      ]);
    });

    it("remembers what it took for 30 days: a late replay (past JetStream's 2-minute window) moves nothing", async () => {
      const { p, charge } = await boltPayment();
      // A real delivery is remembered.
      const opened = await sandbox<{ notification: { id: string } }>("/_sandbox/psps/bolt/disputes", {
        reference: p.id,
        amount: 500,
      });
      await until(p.id, "dispute open", (x) => x.disputes.length === 1);
      expect(await processed.seen("bolt", opened.body.notification.id)).to.equal(true);
      // One taken three days ago: JetStream forgot its message id long since, the door has not.
      const late = signedDispute(charge, { id: "dp_days_ago", amount: 700 });
      await processed.remember("bolt", late.id, new Date(Date.now() - 3 * 86_400_000));
      const events = (await platform.worker!.journal.history(p.id)).length;
      const duplicates = await counted("bolt", "duplicate");
      const res = await door("bolt", late.body);
      expect(res.status).to.equal(200);
      expect(await res.text()).to.equal("[accepted]");
      expect(await counted("bolt", "duplicate")).to.equal(duplicates + 1);
      expect((await platform.worker!.journal.history(p.id)).length).to.equal(events);
      expect((await api.get(`/v1/payments/${p.id}`)).body.disputes).to.have.length(1);
    });
  });

  describe("disputes out of bounds (item 5)", () => {
    type Kept = { notifications: Array<{ payment_reference: string; kind: string; reason: string }> };
    it("keeps a dispute in another currency, or beyond what was captured, for reconciliation", async () => {
      const { p, charge } = await boltPayment(3000);
      const before = await counted("bolt", "unmatched");
      for (const d of [
        { id: "dp_usd", amount: 1000, currency: "USD" },
        { id: "dp_too_much", amount: 3001 },
      ]) {
        const res = await door("bolt", signedDispute(charge, d).body);
        expect(res.status).to.equal(200);
      }
      expect(await counted("bolt", "unmatched")).to.equal(before + 2);
      // Two full-amount disputes: the first is taken, the second is beyond what is left.
      expect(
        (await door("bolt", signedDispute(charge, { id: "dp_full_1", amount: 3000 }).body)).status,
      ).to.equal(200);
      expect(
        (await door("bolt", signedDispute(charge, { id: "dp_full_2", amount: 3000 }).body)).status,
      ).to.equal(200);
      expect(await counted("bolt", "unmatched")).to.equal(before + 3);
      const after = (await api.get(`/v1/payments/${p.id}`)).body;
      expect(after.disputes.map((d) => d.id)).to.deep.equal(["dp_full_1"]);
      const kept = (await platform.ops.get<Kept>("/ops/notifications?unmatched=true&limit=500")).body;
      const mine = kept.notifications.filter((n) => n.payment_reference === p.id);
      expect(mine.map((n) => n.reason)).to.have.length(3);
      expect(mine[0]!.reason).to.match(/USD/);
      expect(mine[1]!.reason).to.match(/3001/);
    });

    it("holds the bound when disputes and a refund race on one payment", async () => {
      const { p, charge } = await boltPayment(3000);
      // Four different full-amount chargebacks and a refund of half, all at the same moment.
      const [refund, ...doors] = await Promise.all([
        api.post(`/v1/payments/${p.id}/refunds`, { amount: 1500 }, `race-refund-${p.id}`),
        ...[1, 2, 3, 4].map((n) =>
          door("bolt", signedDispute(charge, { id: `dp_race_${n}`, amount: 3000 }).body),
        ),
      ]);
      expect(doors.map((r) => r.status)).to.deep.equal([200, 200, 200, 200]);
      const after = (await api.get(`/v1/payments/${p.id}`)).body;
      const disputed = after.disputes.reduce((sum, d) => sum + d.amount, 0);
      // Whichever came first, the money is claimed once: refunded + disputed never exceeds captured.
      expect(after.refunded_amount + disputed, JSON.stringify([refund.status, after.disputes])).to.be.at.most(
        3000,
      );
      expect(after.disputes.length).to.be.at.most(1);
      if (refund.status === 200) expect(after.disputes).to.have.length(0);
      else expect([refund.status, after.disputes.length]).to.deep.equal([409, 1]);
    });
  });

  describe("text a store cannot hold, nesting and size at the door (item 1)", () => {
    it("refuses NUL and unpaired surrogates in any field with 400 before anything is appended", async () => {
      const { p, charge } = await boltPayment();
      const genuine = signedDispute(charge, { id: "dp_text", amount: 100 });
      const cases = [
        ["reason", '"reason":"a\\u0000b"'],
        ["reason", '"reason":"a\\ud800b"'],
        ["additionalData.x", '"x":"\\udc00"'],
      ] as const;
      const events = (await platform.worker!.journal.history(p.id)).length;
      for (const [field, piece] of cases) {
        const body =
          field === "reason"
            ? genuine.body.replace('"reason":"fraudulent"', piece)
            : genuine.body.replace('"additionalData":{', `"additionalData":{${piece},`);
        expect(body).to.not.equal(genuine.body);
        const res = await door("bolt", body);
        expect(res.status, body).to.equal(400);
        const err = ((await res.json()) as { error: { code: string; details: { field: string } } }).error;
        expect(err.code).to.equal("notification_malformed");
        expect(err.details.field).to.include(field);
      }
      // Nesting past the limit, and a body past the size limit.
      const deep = `{"live":"false","notificationItems":${"[".repeat(5000)}${"]".repeat(5000)}}`;
      const nested = await door("bolt", deep);
      expect(nested.status).to.equal(400);
      const big = await door("bolt", `{"pad":"${"x".repeat(300 * 1024)}"}`);
      expect(big.status).to.equal(413);
      expect((await platform.worker!.journal.history(p.id)).length).to.equal(events);
      expect((await api.get(`/v1/payments/${p.id}`)).body.disputes).to.have.length(0);
    });
  });

  describe("a production gateway without notification secrets (item 3)", () => {
    it("keeps each PSP's door closed, says so in /readyz, and a dev-signed notification moves nothing", async () => {
      await routeTo(platform, ["acme", "bolt"]);
      const { p } = await challenge();
      expect(p.psp).to.equal("acme");
      // The Procfile's gateway (gateway/main.ts) composes exactly this: no development defaults.
      const config = loadConfig({ ...platform.env, PORT: "0" });
      expect(config.notifications.acmeWebhookSecret).to.equal(undefined);
      const log = pino({ level: "silent" });
      const infra = await openInfra(config, "test-production-gateway", log);
      const gateway = await startGatewayRole(config, infra, {
        cardKey: randomBytes(32),
        sandboxUrl: platform.sandbox!.url,
        metrics: createMetrics(),
        log,
      });
      try {
        const ready = await fetch(`${gateway.url}/readyz`);
        const body = (await ready.json()) as { status: string; checks: Record<string, string> };
        expect(body.checks.psp_notifications).to.equal("closed: acme, bolt");
        expect(ready.status).to.equal(200);
        // Signed with the published development secret, as the sandbox would sign it.
        const charge = platform.sandbox!.charges({ reference: p.id })[0]!;
        const signer = acmeSigner(DEV_NOTIFICATION_SECRETS.acmeWebhookSecret);
        const notice = signer.notice({ kind: "authorization", charge, outcome: "authorized" }, new Date());
        const headers = signer.headers(notice, new Date(), false);
        const events = (await platform.worker!.journal.history(p.id)).length;
        const closed = await door("acme", notice.body, headers, gateway.url);
        expect(closed.status).to.equal(503);
        expect(((await closed.json()) as { error: { code: string } }).error.code).to.equal(
          "notifications_not_configured",
        );
        expect((await platform.worker!.journal.history(p.id)).length).to.equal(events);
        expect((await api.get(`/v1/payments/${p.id}`)).body.status).to.equal("requires_action");
      } finally {
        await gateway.stop();
        await infra.close();
      }
    });

    it("asks for the PSP's basic auth too when configured (a second factor), before reading the body", async () => {
      const credentials = `bolt-notify:${randomBytes(12).toString("hex")}`;
      const config = loadConfig({
        ...platform.env,
        PORT: "0",
        SWITCHYARD_ACME_WEBHOOK_SECRET: DEV_NOTIFICATION_SECRETS.acmeWebhookSecret,
        SWITCHYARD_BOLT_HMAC_KEY: DEV_NOTIFICATION_SECRETS.boltHmacKey,
        SWITCHYARD_BOLT_NOTIFY_BASIC_AUTH: credentials,
      });
      const log = pino({ level: "silent" });
      const infra = await openInfra(config, "test-basic-auth-gateway", log);
      const gateway = await startGatewayRole(config, infra, {
        cardKey: randomBytes(32),
        sandboxUrl: platform.sandbox!.url,
        metrics: createMetrics(),
        log,
      });
      try {
        const ready = (await (await fetch(`${gateway.url}/readyz`)).json()) as {
          checks: Record<string, string>;
        };
        expect(ready.checks.psp_notifications).to.equal("ok");
        const { p, charge } = await boltPayment();
        const body = signedDispute(charge, { id: "dp_basic", amount: 100 }).body;
        const basic = (c: string) => ({ authorization: `Basic ${Buffer.from(c).toString("base64")}` });
        for (const headers of [{}, basic("bolt-notify:wrong-password-0000"), basic(`${credentials}x`)]) {
          const res = await door("bolt", body, headers, gateway.url);
          expect(res.status).to.equal(401);
          expect(((await res.json()) as { error: { code: string } }).error.code).to.equal("unauthorized");
        }
        expect((await api.get(`/v1/payments/${p.id}`)).body.disputes).to.have.length(0);
        const ok = await door("bolt", body, basic(credentials), gateway.url);
        expect(ok.status).to.equal(200);
        await until(p.id, "dispute open", (x) => x.disputes.length === 1);
      } finally {
        await gateway.stop();
        await infra.close();
      }
    });
  });
});
