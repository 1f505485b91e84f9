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
  forgetAppending,
  readPaymentFrame,
  rememberAppended,
  rememberAppending,
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

  /** What the journal does around one append: remembered before the publish, its sequence after the ack. */
  const appendHere = (frame: PaymentFrame, written: readonly unknown[], data: Uint8Array) => {
    const { seq, ...unsequenced } = frame;
    rememberAppending(SUBJECT, unsequenced, written, data);
    rememberAppended(SUBJECT, seq, data);
  };

  it("hands a follower the remembered frame instead of parsing, once, and only while followers read", () => {
    const [events] = lifecycle();
    const checked = PaymentEvents.parse(events);
    const frame: PaymentFrame = { seq: 7, paymentId: PAYMENT_ID, firstEventNo: 1, events: checked };

    // No follower in this process: nothing is kept.
    appendHere(frame, events!, storedMsg(7, events!).data);
    const before = appendedFrameStats();
    const parsed = readPaymentFrame(storedMsg(7, events!));
    expect(parsed.ok && parsed.frame).to.deep.equal(frame);
    expect(appendedFrameStats().taken).to.equal(before.taken);

    const unfollow = followAppendedFrames();
    try {
      appendHere(frame, events!, storedMsg(7, events!).data);
      const msg = storedMsg(7, events!);
      const read = readPaymentFrame(msg);
      expect(read).to.deep.equal({ ok: true, frame });
      expect(read.ok && read.frame.events).to.equal(checked); // the very events: not parsed
      expect(knownFrame(msg)).to.equal(read.ok && read.frame); // the janitor sees the same reading
      expect(appendedFrameStats().taken).to.equal(before.taken + 1);
      // Taken once: another message of the same sequence (another reader's) is parsed.
      const again = readPaymentFrame(storedMsg(7, events!));
      expect(again.ok && again.frame.events).to.not.equal(checked);
      expect(again.ok && again.frame).to.deep.equal(frame);
      // Events JSON would change are not remembered: their frame is read from its bytes.
      const odd = [{ ...events![0]!, reference: undefined }];
      appendHere({ ...frame, seq: 8, events: odd }, odd, storedMsg(8, odd).data);
      expect(knownFrame(storedMsg(8, odd))).to.equal(undefined);
    } finally {
      unfollow();
    }
  });

  it("hands it to a reader that sees the message before the append's acknowledgement, and only the very bytes", () => {
    const frames = lifecycle();
    const [first, second] = [frames[0]!, frames[1]!];
    const unfollow = followAppendedFrames();
    try {
      const before = appendedFrameStats();
      const firstMsg = storedMsg(20, first);
      // The first frame, published and acknowledged, and not read yet; the second being published.
      appendHere(
        { seq: 20, paymentId: PAYMENT_ID, firstEventNo: 1, events: PaymentEvents.parse(first) },
        first,
        firstMsg.data,
      );
      const secondMsg = storedMsg(21, second, "c".repeat(64));
      const checked = PaymentEvents.parse(second);
      rememberAppending(
        SUBJECT,
        { paymentId: PAYMENT_ID, firstEventNo: 1, events: checked },
        second,
        secondMsg.data,
      );
      // A reader behind reads the first: by its sequence, not mistaken for the one in flight.
      expect(knownFrame(firstMsg)?.seq).to.equal(20);
      // A message on the subject with other bytes (another writer's) takes nothing, and leaves it.
      expect(knownFrame(storedMsg(21, second, "d".repeat(64)))).to.equal(undefined);
      // The second, read before its acknowledgement: from memory, with the message's sequence.
      const read = knownFrame(secondMsg);
      expect(read?.seq).to.equal(21);
      expect(read?.events).to.equal(checked);
      expect(appendedFrameStats().taken).to.equal(before.taken + 2);
      // The acknowledgement then keeps nothing more: another reader's message of it is parsed.
      rememberAppended(SUBJECT, 21, secondMsg.data);
      expect(knownFrame(storedMsg(21, second, "c".repeat(64)))).to.equal(undefined);
      // A publish that failed is forgotten: nothing is taken for it.
      const third = storedMsg(22, first, "e".repeat(64));
      rememberAppending(
        SUBJECT,
        { paymentId: PAYMENT_ID, firstEventNo: 1, events: checked },
        first,
        third.data,
      );
      forgetAppending(SUBJECT, third.data);
      expect(knownFrame(storedMsg(22, first, "e".repeat(64)))).to.equal(undefined);
      expect(appendedFrameStats().taken).to.equal(before.taken + 2);
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
      appendHere(frame, events!, storedMsg(9, events!, "a".repeat(64)).data);
      const before = appendedFrameStats();
      // …and what the new stream holds at seq 9: same subject, another writer's bytes (another chain).
      const other = [{ ...events![0]!, reference: "someone else's" }];
      const read = readPaymentFrame(storedMsg(9, other, "b".repeat(64)));
      expect(read.ok && read.frame.events[0]).to.include({ reference: "someone else's" });
      expect(read.ok && read.frame.events).to.not.equal(frame.events);
      expect(appendedFrameStats()).to.include({ taken: before.taken, otherBytes: before.otherBytes + 1 });
      // One byte apart is other bytes too (the chain's hash differs; the events are the same).
      appendHere({ ...frame, seq: 10 }, events!, storedMsg(10, events!, "a".repeat(64)).data);
      const close = storedMsg(10, events!, `${"a".repeat(63)}b`);
      expect(knownFrame(close)).to.equal(undefined);
      expect(appendedFrameStats().otherBytes).to.equal(before.otherBytes + 2);
    } finally {
      unfollow();
    }
  });
});
