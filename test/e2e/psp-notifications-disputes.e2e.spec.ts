// PSP notifications end to end, for chargebacks: the sandbox's PSPs notify the platform's door (POST
// /webhooks/psp/:psp) signed their own way, and a payment's dispute opens, then closes won or lost,
// on bolt's notifications and on acme's (Stripe-style charge.dispute events). A verified one for a
// payment that does not exist is kept for operators (it counts on the routing the chargebacks before
// it leave: bolt first); a replayed chargeback opens one dispute whatever unsigned fields it edits,
// however late it comes; one in another currency or beyond what was captured is kept for
// reconciliation, and the bound holds when disputes and a refund race; text a store cannot hold,
// deep nesting and oversize bodies are refused at the door. 3-D Secure, refunds, forged and
// replayed notifications: psp-notifications-payments.e2e.spec.ts.
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { ProcessedNotifications } from "../../streams/processed-notifications.ts";
import { NATS_URL } from "../support/infra.ts";
import { startTestPlatform, type Api, type TestPlatform } from "../support/platform.ts";
import { pspNotices } from "../support/psp-notices.ts";
import { routeTo } from "../support/routing.ts";

describe("PSP notifications: disputes (e2e)", function () {
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

  const { sandbox, pay, until, counted, boltNotice, signedDispute, door, boltPayment, withAdditional } =
    pspNotices(() => ({ platform, api }));

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
});
