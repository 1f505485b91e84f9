// The webhook dispatcher as a follower, against real NATS and PostgreSQL: a message that is not an
// event frame is set aside at once; a frame whose events this version cannot read (a newer writer's)
// is tried again, holds the later frames back meanwhile (the dispatcher shows as failing), and is set
// aside only after the configured time; then the position goes past both and a readable frame after
// them is applied. On the first start after the upgrade its position is the former durable
// consumer's ack floor, not the stream's start. The deliveries it leases to its process's sender are
// handed only once their batch is committed, and the room of a batch rolled back goes back.
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { expect } from "chai";
import {
  WebhookDispatcher,
  WEBHOOKS_FOLLOWER,
  type HandOffTarget,
} from "../../actors/webhooks/dispatcher.ts";
import type { Claimed } from "../../actors/webhooks/store.ts";
import { openDb, dropSchema, type Db } from "../../streams/db/client.ts";
import { listSetAside } from "../../streams/db/set-aside.ts";
import { encode } from "../../streams/envelopes.ts";
import { EventStore } from "../../streams/event-store.ts";
import { eventSubject } from "../../streams/topology.ts";
import { paymentCreated } from "../support/events.ts";
import { DATABASE_URL, openInfra, type Infra } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";
import { WebhookEndpointStore } from "../../actors/webhooks/endpoints.ts";
import type { Sql } from "../../streams/db/client.ts";

const KEY = Buffer.alloc(32, 7);

async function createEndpoint(sql: Sql, o: { merchantId: string; url: string }): Promise<void> {
  await new WebhookEndpointStore(sql, { keys: [KEY] }).create(o.merchantId, {
    url: o.url,
    enabledEvents: ["*"],
    description: null,
  });
}

describe("webhook dispatcher: frames it cannot read (real NATS and PostgreSQL)", function () {
  this.timeout(30_000);
  let infra: Infra;
  let db: Db;
  let dispatcher: WebhookDispatcher | undefined;

  beforeEach(async () => {
    infra = await openInfra();
    db = await openDb({ url: DATABASE_URL, schema: `sy_${infra.prefix}`, max: 2 }, infra.log);
  });
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
    await db.close();
    await dropSchema(DATABASE_URL, `sy_${infra.prefix}`);
    await infra.close();
  });

  const dispatcherWith = (
    setAside: Array<{ seq: number; code: string; at: number }>,
    handOff?: HandOffTarget,
  ) =>
    new WebhookDispatcher({
      ...(handOff && { handOff }),
      js: infra.js,
      jsm: infra.jsm,
      topo: infra.topo,
      sql: db.sql,
      events: new EventStore(infra.js, infra.jsm, infra.topo, infra.metrics),
      log: infra.log,
      onSetAside: (seq, code) => setAside.push({ seq, code, at: Date.now() }),
      unreadableRetryMs: 50,
      unreadableSetAsideAfterMs: 1_500,
    });
  const position = async () => {
    const [row] = await db.sql<{ last_seq: number; failing_since: Date | null }[]>`
      select last_seq, failing_since from projection_offsets where name = ${WEBHOOKS_FOLLOWER}`;
    return row;
  };
  const publish = async (paymentId: string, body: unknown) =>
    (await infra.js.publish(eventSubject(infra.topo, paymentId), encode(body))).seq;

  it("sets aside what is not a frame at once, and a frame it cannot read only after holding on to it", async () => {
    const setAside: Array<{ seq: number; code: string; at: number }> = [];
    dispatcher = dispatcherWith(setAside);
    await dispatcher.start();
    const at = new Date().toISOString();
    const garbage = await publish("pay_garbage", "not a frame");
    const sent = Date.now();
    const future = await publish("pay_future", {
      v: 1,
      paymentId: "pay_future",
      firstEventNo: 1,
      events: [{ type: "PaymentTeleported", at }],
    });
    const good = await publish("pay_good", {
      v: 1,
      paymentId: "pay_good",
      firstEventNo: 1,
      events: [paymentCreated("pay_good", at)],
    });
    // Held back: the dispatcher is failing on the unreadable frame, and the good one waits behind it.
    await waitFor(async () => (await position())?.failing_since != null, {
      timeoutMs: 10_000,
      what: "the dispatcher shown failing on the frame it cannot read",
    });
    expect((await position())?.last_seq).to.be.below(good);
    await dispatcher.caughtUp(good);
    expect(setAside.map((s) => [s.seq, s.code])).to.deep.equal([
      [garbage, "undecodable"],
      [future, "unreadable"],
    ]);
    expect(setAside[1]!.at - sent).to.be.at.least(1_500);
    const listed = await listSetAside(db.sql, { follower: WEBHOOKS_FOLLOWER, limit: 10 });
    expect(listed.map((r) => r.seq).sort((a, b) => a - b)).to.deep.equal([garbage, future]);
    expect(await position()).to.deep.equal({ last_seq: good, failing_since: null });
  });

  it("starts, after the upgrade, where the former durable consumer's acknowledgements reached", async () => {
    await createEndpoint(db.sql, { merchantId: "m1", url: "https://merchant.example/hooks" });
    const at = new Date().toISOString();
    // Created and failed in one frame: the merchant hears of it (one event per frame applied).
    const failed = (id: string) => ({
      v: 1,
      paymentId: id,
      firstEventNo: 1,
      events: [paymentCreated(id, at), { type: "PaymentFailed", code: "no_route", at }],
    });
    const seqs: number[] = [];
    for (const id of ["pay_a", "pay_b", "pay_c"]) seqs.push(await publish(id, failed(id)));
    // The durable consumer an older version read, with the first two frames acknowledged.
    await infra.jsm.consumers.add(infra.topo.eventStream, {
      durable_name: infra.topo.webhookConsumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const consumer = await infra.js.consumers.get(infra.topo.eventStream, infra.topo.webhookConsumer);
    for (let i = 0; i < 2; i++)
      expect(await (await consumer.next({ expires: 5_000 }))?.ackAck()).to.equal(true);
    dispatcher = dispatcherWith([]);
    await dispatcher.start();
    await dispatcher.caughtUp(seqs[2]!);
    // Only the frame past the floor was applied: the older ones' events were stored by the older version.
    const rows = await db.sql<{ payment_id: string }[]>`select payment_id from webhook_events`;
    expect(rows.map((r) => r.payment_id)).to.deep.equal(["pay_c"]);
    expect((await position())?.last_seq).to.equal(seqs[2]);
  });

  it("hands a committed batch's deliveries to the sender, and gives back the room of one rolled back", async () => {
    await createEndpoint(db.sql, { merchantId: "m1", url: "https://merchant.example/hooks" });
    const at = new Date().toISOString();
    const failed = (id: string, reference?: string) => ({
      v: 1,
      paymentId: id,
      firstEventNo: 1,
      events: [
        { ...paymentCreated(id, at), ...(reference !== undefined && { reference }) },
        { type: "PaymentFailed", code: "no_route", at },
      ],
    });
    // One batch: a frame whose merchant event PostgreSQL refuses (a NUL) after a good one. The
    // batch's statement fails after the room was reserved; then each frame alone.
    const good = await publish("pay_good", failed("pay_good"));
    const bad = await publish("pay_nul", failed("pay_nul", "order\u0000one"));
    let room = 8;
    const ledger = { reserved: 0, released: 0, taken: 0 };
    const takes: Claimed[][][] = [];
    const handOff: HandOffTarget = {
      leaseMs: 30_000,
      reserve(max) {
        const n = Math.min(max, room);
        room -= n;
        ledger.reserved += n;
        return n;
      },
      release(n) {
        room += n;
        ledger.released += n;
      },
      take(runs, reserved) {
        room += reserved;
        ledger.taken += reserved;
        takes.push([...runs]);
      },
    };
    const setAside: Array<{ seq: number; code: string; at: number }> = [];
    dispatcher = dispatcherWith(setAside, handOff);
    await dispatcher.start();
    await dispatcher.caughtUp(bad);
    // Counted once the position is past it (the callback comes right after the commit).
    await waitFor(() => setAside.length > 0, { timeoutMs: 5_000, what: "the NUL frame set aside" });
    expect(setAside.map((x) => [x.seq, x.code])).to.deep.equal([[bad, "22P05"]]);
    // The good frame's delivery handed once, after its commit; every reservation came back.
    expect(takes.flat(2).map((c) => c.payment_id)).to.deep.equal(["pay_good"]);
    expect(room).to.equal(8);
    expect(ledger.reserved).to.equal(ledger.released + ledger.taken);
    expect(ledger.released).to.be.at.least(2); // the batch's two, at least
    const rows = await db.sql<{ payment_id: string; leased: boolean; status: string }[]>`
      select payment_id, leased_until is not null as leased, status from webhook_deliveries`;
    expect(rows).to.deep.equal([{ payment_id: "pay_good", leased: true, status: "pending" }]);
    expect(good).to.be.below(bad);
  });
});
