// Frames a process appended are handed to its own followers as read (actors/projections/frames.ts):
// only when the events written are plain JSON that JSON would not change, so that what the followers
// get is what reading the stored bytes would have given them. Pure: no stream, no server.
import { expect } from "chai";
import { decide } from "../../actors/payment/core/decide.ts";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import { evolveAll } from "../../actors/payment/core/evolve.ts";
import type { PaymentCommand } from "../../actors/payment/core/commands.ts";
import type { PaymentState } from "../../actors/payment/core/state.ts";
import { PaymentEvents } from "../../actors/payment/core/wire.ts";
import {
  appendedFrameStats,
  followAppendedFrames,
  jsonExact,
  knownFrame,
  readPaymentFrame,
  rememberAppended,
  type PaymentFrame,
} from "../../actors/projections/frames.ts";
import { encode } from "../../streams/envelopes.ts";
import type { StreamMsg } from "../../streams/event-tap.ts";
import { cmd, psp, PAYMENT_ID } from "./decider-spec.ts";

const SUBJECT = `t.pay.evt.${PAYMENT_ID}`;

/** The message a follower would get for `events` stored at `seq`, as the event store encodes it. */
function storedMsg(seq: number, events: readonly unknown[], prev = "0".repeat(64)): StreamMsg {
  const frame = { v: 2, paymentId: PAYMENT_ID, firstEventNo: 1, events, prev };
  return { seq, subject: SUBJECT, data: encode(frame), time: new Date() };
}

/** Every event the decider writes for a create → authorize → capture → refund, command by command. */
function lifecycle(): PaymentEvent[][] {
  const commands: PaymentCommand[] = [
    cmd.create({ reference: "order-1", metadata: { a: "b" } }),
    cmd.authResult(1, psp.authorized()),
    cmd.capture(),
    cmd.opResult("op_1", psp.succeeded()),
    cmd.refund(4_000, { operationId: "op_2" }),
    cmd.opResult("op_2", psp.succeeded()),
  ];
  const frames: PaymentEvent[][] = [];
  let state: PaymentState = undefined;
  for (const c of commands) {
    const d = decide(state, c);
    if (!d.ok || d.events.length === 0) continue;
    frames.push(d.events);
    state = evolveAll(state, d.events);
  }
  return frames;
}

describe("frames appended here, read by this process's followers", () => {
  it("knows what JSON would change and what it would not", () => {
    for (const v of [null, "x", "\u{1F600}", "\ud800", 0, 12.5, true, [], {}, { a: [1, { b: null }] }])
      expect(jsonExact(v), JSON.stringify(v)).to.equal(true);
    expect(jsonExact(Object.assign(Object.create(null) as object, { a: 1 }))).to.equal(true);
    for (const v of [
      undefined,
      { a: undefined },
      [1, undefined],
      -0,
      { n: Number.NaN },
      [Infinity],
      new Date(0),
      new Map(),
      { d: new Uint8Array(1) },
      { f: () => 1 },
      1n,
      JSON.parse('{"__proto__": 1}') as unknown,
    ])
      expect(jsonExact(v), String(v)).to.equal(false);
  });

  it("the decider's events are plain JSON, and their schema reads them as it reads the stored bytes", () => {
    const frames = lifecycle();
    expect(frames.length).to.be.at.least(4);
    for (const events of frames) {
      expect(jsonExact(events), events.map((e) => e.type).join(",")).to.equal(true);
      const direct = PaymentEvents.parse(events);
      const stored = PaymentEvents.parse(JSON.parse(JSON.stringify(events)));
      expect(direct).to.deep.equal(stored);
    }
  });

  it("hands a follower the remembered frame instead of parsing, once, and only while followers read", () => {
    const [events] = lifecycle();
    const checked = PaymentEvents.parse(events);
    const frame: PaymentFrame = { seq: 7, paymentId: PAYMENT_ID, firstEventNo: 1, events: checked };

    // No follower in this process: nothing is kept.
    rememberAppended(SUBJECT, frame, events!, storedMsg(7, events!).data);
    const before = appendedFrameStats();
    const parsed = readPaymentFrame(storedMsg(7, events!));
    expect(parsed.ok && parsed.frame).to.deep.equal(frame);
    expect(appendedFrameStats().taken).to.equal(before.taken);

    const unfollow = followAppendedFrames();
    try {
      rememberAppended(SUBJECT, frame, events!, storedMsg(7, events!).data);
      const msg = storedMsg(7, events!);
      const read = readPaymentFrame(msg);
      expect(read).to.deep.equal({ ok: true, frame });
      expect(read.ok && read.frame).to.equal(frame); // the very object: not parsed
      expect(knownFrame(msg)).to.equal(frame); // the janitor sees the same reading
      expect(appendedFrameStats().taken).to.equal(before.taken + 1);
      // Taken once: another message of the same sequence (another reader's) is parsed.
      const again = readPaymentFrame(storedMsg(7, events!));
      expect(again.ok && again.frame).to.not.equal(frame);
      expect(again.ok && again.frame).to.deep.equal(frame);
      // Events JSON would change are not remembered: their frame is read from its bytes.
      const odd = [{ ...events![0]!, reference: undefined }];
      rememberAppended(SUBJECT, { ...frame, seq: 8, events: odd }, odd, storedMsg(8, odd).data);
      expect(knownFrame(storedMsg(8, odd))).to.equal(undefined);
    } finally {
      unfollow();
    }
  });

  it("hands it only to a message with the very bytes appended: the same sequence and subject from a stream made again is read", () => {
    const [events] = lifecycle();
    const frame: PaymentFrame = {
      seq: 9,
      paymentId: PAYMENT_ID,
      firstEventNo: 1,
      events: PaymentEvents.parse(events),
    };
    const unfollow = followAppendedFrames();
    try {
      // What this process appended at seq 9 before the stream was deleted and created again…
      rememberAppended(SUBJECT, frame, events!, storedMsg(9, events!, "a".repeat(64)).data);
      const before = appendedFrameStats();
      // …and what the new stream holds at seq 9: same subject, another writer's bytes (another chain).
      const other = [{ ...events![0]!, reference: "someone else's" }];
      const read = readPaymentFrame(storedMsg(9, other, "b".repeat(64)));
      expect(read.ok && read.frame.events[0]).to.include({ reference: "someone else's" });
      expect(read.ok && read.frame).to.not.equal(frame);
      expect(appendedFrameStats()).to.include({ taken: before.taken, otherBytes: before.otherBytes + 1 });
      // One byte apart is other bytes too (the chain's hash differs; the events are the same).
      rememberAppended(SUBJECT, { ...frame, seq: 10 }, events!, storedMsg(10, events!, "a".repeat(64)).data);
      const close = storedMsg(10, events!, `${"a".repeat(63)}b`);
      expect(knownFrame(close)).to.not.equal(frame);
      expect(appendedFrameStats().otherBytes).to.equal(before.otherBytes + 2);
    } finally {
      unfollow();
    }
  });
});
