import { expect } from "chai";
import type { PaymentCreated, PaymentEvent } from "../../actors/payment/core/events.ts";
import { evolveAll } from "../../actors/payment/core/evolve.ts";
import { InvalidEventError, Journal } from "../../actors/payment/journal.ts";
import { SCHEMA_VERSION } from "../../actors/payment/core/state.ts";
import { ChainVerifier, chainHash } from "../../streams/chain.ts";
import { encode } from "../../streams/envelopes.ts";
import { EventStore, WrongLastSequenceError } from "../../streams/event-store.ts";
import { SnapshotStore } from "../../streams/snapshots.ts";
import { ensureTopology, eventSubject, snapshotKey } from "../../streams/topology.ts";
import { paymentCreated } from "../support/events.ts";
import { openInfra, type Infra } from "../support/infra.ts";

const at = "2026-01-01T00:00:00.000Z";

const created = (paymentId: string): PaymentCreated => paymentCreated(paymentId, at);

function history(paymentId: string): PaymentEvent[][] {
  return [
    [
      created(paymentId),
      { type: "PaymentRouted", strategy: "static_priority", candidates: ["acme", "bolt"], at },
      { type: "AuthorizationRequested", attemptNo: 1, psp: "acme", idempotencyKey: `${paymentId}.a1`, at },
    ],
    [{ type: "PaymentAuthorized", attemptNo: 1, pspReference: "ch_1", captured: false, at }],
    [
      {
        type: "OperationRequested",
        operationId: "op_1",
        kind: "capture",
        requestFingerprint: "f2",
        amount: 600,
        idempotencyKey: "k",
        at,
      },
    ],
    [{ type: "OperationSucceeded", operationId: "op_1", pspReference: "cap_1", at }],
  ];
}

describe("event store (real JetStream and Redis)", () => {
  let infra: Infra;
  let store: Journal;
  let snapshots: SnapshotStore;

  before(async () => {
    infra = await openInfra();
    snapshots = new SnapshotStore(
      infra.redis,
      (id) => snapshotKey(infra.topo, id),
      infra.log,
      infra.metrics,
      SCHEMA_VERSION,
    );
    store = new Journal(new EventStore(infra.js, infra.jsm, infra.topo, infra.metrics), snapshots);
  });
  after(async () => infra.close());

  async function appendAll(
    paymentId: string,
  ): Promise<{ lastSeq: number; lastHash: string; eventNo: number }> {
    let pos = { lastSeq: 0, lastHash: "", eventNo: 0 };
    for (const batch of history(paymentId)) {
      const { seq, hash } = await store.append(paymentId, pos, batch);
      pos = { lastSeq: seq, lastHash: hash, eventNo: pos.eventNo + batch.length };
    }
    return pos;
  }

  it("refuses to append events holding a NUL or a lone surrogate, whoever decided them, and stores nothing", async () => {
    const id = "pay_unstorable";
    const bad: PaymentEvent[][] = [
      [{ ...created(id), reference: "a\u0000b" }],
      [{ ...created(id), metadata: { "k\ud800": "v" } }],
    ];
    for (const events of bad) {
      const err = await store.append(id, { lastSeq: 0, eventNo: 0 }, events).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(InvalidEventError);
      expect((err as Error).message).to.match(/no follower could store: 0\.(reference|metadata\.\[key\])/);
    }
    expect((await store.load(id)).lastSeq).to.equal(0);
  });

  it("loads a payment nobody has written as not existing", async () => {
    const loaded = await store.load("pay_none");
    expect(loaded).to.deep.equal({
      state: undefined,
      lastSeq: 0,
      lastHash: undefined,
      eventNo: 0,
      replayed: 0,
    });
  });

  it("rebuilds the state by full replay when there is no snapshot", async () => {
    const id = "pay_full";
    const pos = await appendAll(id);
    const loaded = await store.load(id);
    expect(loaded.state).to.deep.equal(evolveAll(undefined, history(id).flat()));
    expect(loaded.state?.status).to.equal("captured");
    expect(loaded.state?.capturedAmount).to.equal(600);
    expect(loaded).to.include({ lastSeq: pos.lastSeq, eventNo: 6, replayed: 6 });
  });

  it("gives the same state from a snapshot plus the tail as from a full replay", async () => {
    const id = "pay_snap";
    const batches = history(id);
    const { seq: first } = await store.append(id, { lastSeq: 0, eventNo: 0 }, batches[0]!);
    const { seq: second } = await store.append(id, { lastSeq: first, eventNo: 3 }, batches[1]!);
    await snapshots.put(id, {
      seq: second,
      eventNo: 4,
      state: evolveAll(undefined, batches.slice(0, 2).flat())!,
    });
    const { seq: third } = await store.append(id, { lastSeq: second, eventNo: 4 }, batches[2]!);
    await store.append(id, { lastSeq: third, eventNo: 5 }, batches[3]!);

    const fromSnapshot = await store.load(id);
    expect(fromSnapshot.replayed).to.equal(2);
    await infra.redis.del(snapshotKey(infra.topo, id));
    const fromScratch = await store.load(id);
    expect(fromScratch.replayed).to.equal(6);
    expect(fromSnapshot.state).to.deep.equal(fromScratch.state);
    expect(fromSnapshot.lastSeq).to.equal(fromScratch.lastSeq);
  });

  it("gives the same state after Redis is flushed of every snapshot", async () => {
    const id = "pay_flush";
    const pos = await appendAll(id);
    const state = evolveAll(undefined, history(id).flat())!;
    await snapshots.put(id, { seq: pos.lastSeq, eventNo: pos.eventNo, state });
    expect((await store.load(id)).replayed).to.equal(0);
    const keys = await infra.redis.keys(`${infra.topo.redisPrefix}*`);
    await infra.redis.del(...keys);
    const loaded = await store.load(id);
    expect(loaded.replayed).to.equal(6);
    expect(loaded.state).to.deep.equal(state);
  });

  it("fences a second writer that appends from a stale position", async () => {
    const id = "pay_fence";
    const [first, second] = history(id);
    const { seq } = await store.append(id, { lastSeq: 0, eventNo: 0 }, first!);
    // Writer A appends; writer B still believes the payment is at `seq` with no newer event.
    await store.append(id, { lastSeq: seq, eventNo: 3 }, second!);
    let error: unknown;
    try {
      await store.append(id, { lastSeq: seq, eventNo: 3 }, [
        { type: "PaymentDeclined", attemptNo: 1, code: "card_declined", soft: false, rawCode: "x", at },
      ]);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(WrongLastSequenceError);
    expect((await store.load(id)).state?.status).to.equal("authorized");
  });

  it("refuses to create a payment twice from position zero", async () => {
    const id = "pay_twice";
    await store.append(id, { lastSeq: 0, eventNo: 0 }, [created(id)]);
    let error: unknown;
    try {
      await store.append(id, { lastSeq: 0, eventNo: 0 }, [{ ...created(id), amount: 5 }]);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(WrongLastSequenceError);
  });

  it("never lets an older snapshot overwrite a newer one", async () => {
    const id = "pay_cas";
    const state = evolveAll(undefined, history(id).flat())!;
    expect(await snapshots.put(id, { seq: 10, eventNo: 6, state })).to.equal(true);
    expect(await snapshots.put(id, { seq: 7, eventNo: 4, state: { ...state, amount: 1 } })).to.equal(false);
    expect((await snapshots.get(id))?.seq).to.equal(10);
    expect(((await snapshots.get(id))?.state as { amount: number }).amount).to.equal(1000);
  });

  it("reads a history written before the chain, and chains its next frame to the last legacy frame", async () => {
    const id = "pay_legacy";
    const [first, second] = history(id);
    // A frame as the code before the chain wrote it: version 1, no prev.
    const legacy = encode({ v: 1, paymentId: id, firstEventNo: 1, events: first });
    const { seq } = await infra.js.publish(eventSubject(infra.topo, id), legacy);
    const loaded = await store.load(id);
    expect(loaded).to.include({ lastSeq: seq, lastHash: chainHash(legacy), eventNo: 3 });
    expect(loaded.state?.status).to.equal("authorizing");
    await store.append(id, loaded, second!);
    expect((await store.load(id)).state?.status).to.equal("authorized");

    const verifier = new ChainVerifier();
    const frames = [await infra.jsm.direct.getMessage(infra.topo.eventStream, { seq })];
    frames.push(
      await infra.jsm.direct.getMessage(infra.topo.eventStream, {
        last_by_subj: eventSubject(infra.topo, id),
      }),
    );
    for (const m of frames) verifier.see(id, m!.seq, m!.data);
    expect(frames[1]!.json<{ v: number; prev: string }>()).to.include({ v: 2, prev: chainHash(legacy) });
    expect(verifier.summary()).to.deep.equal({ frames: 2, payments: 1, legacy: 1, breaks: 0 });
  });

  it("creates the topology a second time without harm", async () => {
    await ensureTopology(infra.jsm, infra.topo);
    await ensureTopology(infra.jsm, infra.topo);
    const info = await infra.jsm.streams.info(infra.topo.eventStream);
    expect(info.config.allow_direct).to.equal(true);
    expect((await store.load("pay_full")).state?.status).to.equal("captured");
  });
});
