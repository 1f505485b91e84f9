// Deliveries leased to the process's own sender when the dispatcher stores them (actors/webhooks/
// store.ts ingest with a hand-off): no claim for them. The claim's order rule still holds — a
// delivery with an earlier pending one of its endpoint and payment is not leased — and a lease is
// offered only for the room the sender reserved, in whole runs of one endpoint and payment.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { pino } from "pino";
import { createMetrics } from "../../config/metrics.ts";
import { WebhookSender } from "../../actors/webhooks/sender.ts";
import { WebhookEndpointStore } from "../../actors/webhooks/endpoints.ts";
import { series, parseMetrics } from "../support/prometheus.ts";
import { waitFor } from "../support/wait.ts";
import { startReceiver } from "../support/webhooks.ts";
import type { MerchantEvent } from "../../actors/webhooks/core/catalog.ts";
import { claimDue, ingest, type HandOff, type StoredEntry } from "../../actors/webhooks/store.ts";
import type { Sql } from "../../streams/db/client.ts";
import { useTestSchema } from "../support/test-schema.ts";

const LEASE_MS = 5_000;

/** A merchant event of `paymentId` from frame `seq`, index `idx`: its body as the catalog makes it. */
function entry(paymentId: string, seq: number, idx: number, type = "payment.captured"): StoredEntry {
  const event = {
    id: `evt_${paymentId}_${seq}_${idx}`,
    object: "event",
    type,
    created: new Date(Date.UTC(2026, 11, 7, 10, 0, seq)).toISOString(),
    data: { object: { id: paymentId, object: "payment", status: "captured", amount: 4990 } },
  } as unknown as MerchantEvent;
  return {
    event,
    merchantId: "m1",
    paymentId,
    eventNo: idx + 1,
    idx,
    seq,
    appendedAt: new Date("2026-12-07T10:00:00Z"),
    traceparent: null,
  };
}

/** A hand-off with `room` free, counting what it reserved. */
function handOff(room: number): HandOff & { reserved: number } {
  const h = {
    reserved: 0,
    leaseMs: LEASE_MS,
    reserve(max: number) {
      const n = Math.min(max, room - h.reserved);
      h.reserved += n;
      return n;
    },
  };
  return h;
}

async function ingestNow(sql: Sql, entries: StoredEntry[], h?: HandOff) {
  const now = new Date();
  return { now, r: await sql.begin((tx) => ingest(tx, entries, now, h)) };
}

describe("webhook deliveries handed to the process's sender at insert (PostgreSQL)", function () {
  this.timeout(20_000);
  const db = useTestSchema("handoff", 2);

  beforeEach(async () => {
    await db.sql`insert into webhook_endpoints (id, merchant_id, url, enabled_events, secret_sealed,
        failing_since, created_at, updated_at, format)
      values ('we_1', 'm1', 'https://merchant.example/hooks', '{*}', 'sealed-secret', null, now(), now(), 'standard')`;
  });

  const leases = (sql: Sql) =>
    sql<Array<{ event_id: string; leased: boolean; status: string }>>`
      select event_id, leased_until is not null as leased, status from webhook_deliveries order by seq, idx`;

  it("leases a payment's run to the sender, in order, with what a claim would return", async () => {
    const h = handOff(10);
    const { now, r } = await ingestNow(
      db.sql,
      [entry("pay_a", 7, 0), entry("pay_a", 7, 1), entry("pay_b", 8, 0)],
      h,
    );
    expect(r.stored).to.equal(3);
    expect(r.reserved).to.equal(3);
    expect(r.handed.map((run) => run.map((c) => c.event_id))).to.deep.equal([
      ["evt_pay_a_7_0", "evt_pay_a_7_1"],
      ["evt_pay_b_8_0"],
    ]);
    expect((await leases(db.sql)).every((d) => d.leased && d.status === "pending")).to.equal(true);
    // The run's second delivery is sent after the first: leased for two leases.
    const [second] = await db.sql<Array<{ until: Date }>>`
      select leased_until as until from webhook_deliveries where event_id = 'evt_pay_a_7_1'`;
    expect(second!.until.getTime()).to.equal(now.getTime() + 2 * LEASE_MS);
    // Nothing left to claim, and what was handed is what a claim gives (once the leases run out).
    expect(await claimDue(db.sql, { limit: 10, now: new Date(), leaseMs: LEASE_MS })).to.deep.equal([]);
    const later = new Date(now.getTime() + 3 * LEASE_MS);
    const claimed = await claimDue(db.sql, { limit: 10, now: later, leaseMs: LEASE_MS });
    const handedA = r.handed[0]![0]!;
    const claimedA = claimed.find((c) => c.delivery_id === handedA.delivery_id);
    expect(claimedA).to.deep.equal(handedA);
  });

  it("does not lease a delivery with an earlier pending one of its endpoint and payment", async () => {
    // pay_a's first event is stored unleased (no room): pending, not yet sent.
    const first = await ingestNow(db.sql, [entry("pay_a", 7, 0)], handOff(0));
    expect(first.r.handed).to.deep.equal([]);
    const h = handOff(10);
    const { r } = await ingestNow(db.sql, [entry("pay_a", 9, 0), entry("pay_c", 9, 1)], h);
    expect(r.handed.map((run) => run.map((c) => c.event_id))).to.deep.equal([["evt_pay_c_9_1"]]);
    expect(await leases(db.sql)).to.deep.equal([
      { event_id: "evt_pay_a_7_0", leased: false, status: "pending" },
      { event_id: "evt_pay_a_9_0", leased: false, status: "pending" },
      { event_id: "evt_pay_c_9_1", leased: true, status: "pending" },
    ]);
    // The claim sends pay_a's in order: its first only, the second after it.
    const claimed = await claimDue(db.sql, { limit: 10, now: new Date(), leaseMs: LEASE_MS });
    expect(claimed.map((c) => c.event_id)).to.deep.equal(["evt_pay_a_7_0"]);
  });

  it("leases no more than the room reserved: a run cut short keeps its first ones", async () => {
    const h = handOff(2);
    const { r } = await ingestNow(
      db.sql,
      [entry("pay_a", 7, 0), entry("pay_a", 7, 1), entry("pay_a", 7, 2)],
      h,
    );
    expect(r.reserved).to.equal(2);
    expect(r.handed.map((run) => run.map((c) => c.event_id))).to.deep.equal([
      ["evt_pay_a_7_0", "evt_pay_a_7_1"],
    ]);
    expect((await leases(db.sql)).map((d) => d.leased)).to.deep.equal([true, true, false]);
  });

  it("hands nothing for a batch stored before (a replay): nothing inserted, nothing leased", async () => {
    const batch = [entry("pay_a", 7, 0)];
    await ingestNow(db.sql, batch, handOff(0));
    const { r } = await ingestNow(db.sql, batch, handOff(10));
    expect(r.handed).to.deep.equal([]);
    expect(await leases(db.sql)).to.deep.equal([
      { event_id: "evt_pay_a_7_0", leased: false, status: "pending" },
    ]);
  });
});

describe("the sender with a handed run (PostgreSQL, a real receiver)", function () {
  this.timeout(20_000);
  const db = useTestSchema("handrun", 4);

  /** A sender, a receiver verifying its signatures, and an endpoint m1 has pointing at it. */
  async function senderAndReceiver(pollMs: number) {
    const cardKeys = [randomBytes(32)];
    const key: { secret?: string } = {};
    const receiver = await startReceiver(() => key.secret);
    const metrics = createMetrics();
    const sender = new WebhookSender({
      sql: db.sql,
      cardKeys,
      retryScheduleMs: [200, 200, 200],
      disableAfterMs: 60_000,
      timeoutMs: 2_000,
      concurrency: 8,
      pollMs,
      metrics,
      log: pino({ level: "silent" }),
    });
    const issued = await new WebhookEndpointStore(db.sql, { keys: cardKeys }).create("m1", {
      url: receiver.url,
      enabledEvents: ["*"],
      description: null,
    });
    key.secret = issued.secret ?? undefined;
    const via = async (v: string) =>
      series(parseMetrics(await metrics.registry.metrics()), "switchyard_webhook_attempts_started_total", {
        via: v,
      })[0]?.value;
    return { sender, receiver, via };
  }

  it("sends a delivery held back behind one it is sending as soon as that one succeeds, not at the next poll", async () => {
    // Polls 10 s apart: only the end of the send it waits for can send it within the test's time.
    const { sender, receiver, via } = await senderAndReceiver(10_000);
    try {
      sender.start();
      receiver.holdFrom(0);
      const first = await db.sql.begin((tx) => ingest(tx, [entry("pay_a", 7, 0)], new Date(), sender));
      sender.take(first.handed, first.reserved);
      await waitFor(() => receiver.held() === 1, { timeoutMs: 5_000, what: "the first delivery in flight" });
      // The payment's next event while its first is being sent: stored unleased, held back.
      const next = await db.sql.begin((tx) => ingest(tx, [entry("pay_a", 9, 0)], new Date(), sender));
      expect(next.handed).to.deep.equal([]);
      sender.stored();
      receiver.release();
      await waitFor(() => receiver.ok().length === 2, { timeoutMs: 5_000, what: "both delivered" });
      expect(receiver.ok().map((x) => x.event.id)).to.deep.equal(["evt_pay_a_7_0", "evt_pay_a_9_0"]);
      expect([await via("handed"), await via("claimed")]).to.deep.equal([1, 1]);
    } finally {
      await sender.stop();
      await receiver.close();
    }
  });

  it("sends a run in order; after a failure the rest waits for a claim until the failed one succeeds", async () => {
    const { sender, receiver, via } = await senderAndReceiver(50);
    try {
      // The receiver refuses the run's first delivery once.
      let refused = false;
      receiver.answer(() => (refused ? 200 : ((refused = true), 500)));
      sender.start();
      const r = await db.sql.begin((tx) =>
        ingest(tx, [entry("pay_a", 7, 0), entry("pay_a", 7, 1)], new Date(), sender),
      );
      expect(r.handed.map((run) => run.length)).to.deep.equal([2]);
      sender.take(r.handed, r.reserved);
      await waitFor(() => receiver.ok().length === 2, { timeoutMs: 10_000, what: "both delivered" });
      // The second was never sent before the first succeeded.
      expect(receiver.all.map((x) => `${x.event.id} ${x.status}`)).to.deep.equal([
        "evt_pay_a_7_0 500",
        "evt_pay_a_7_0 200",
        "evt_pay_a_7_1 200",
      ]);
      // The first try handed; its retry and the run's second (given back after the failure) claimed.
      expect([await via("handed"), await via("claimed")]).to.deep.equal([1, 2]);
    } finally {
      await sender.stop();
      await receiver.close();
    }
  });
});
