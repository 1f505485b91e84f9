// The chain check on frames built by hand: what an intact history, an edit, a removal and legacy
// frames look like to the verifier (streams/chain.ts).
import { expect } from "chai";
import {
  BreakKind,
  ChainVerifier,
  chainHash,
  formatBreak,
  formatSummary,
  genesisHash,
} from "../../streams/chain.ts";
import { encode } from "../../streams/envelopes.ts";

type Stored = { paymentId: string; seq: number; data: Uint8Array };

/** A chained history of `n` frames for one payment, at the given stream sequences. */
function chained(paymentId: string, seqs: readonly number[], amount = 1000): Stored[] {
  let prev = genesisHash(paymentId);
  return seqs.map((seq, i) => {
    const data = encode({
      v: 2,
      paymentId,
      firstEventNo: i + 1,
      events: [{ type: "Something", amount, i }],
      prev,
    });
    prev = chainHash(data);
    return { paymentId, seq, data };
  });
}

function legacy(paymentId: string, seqs: readonly number[]): Stored[] {
  return seqs.map((seq, i) => ({
    paymentId,
    seq,
    data: encode({ v: 1, paymentId, firstEventNo: i + 1, events: [{ type: "Old", i }] }),
  }));
}

function verify(frames: readonly Stored[]): ChainVerifier {
  const v = new ChainVerifier();
  for (const f of [...frames].sort((a, b) => a.seq - b.seq)) v.see(f.paymentId, f.seq, f.data);
  return v;
}

/** The same frame with its first event's amount changed, `prev` kept. */
function edited(f: Stored, amount: number): Stored {
  const json = JSON.parse(Buffer.from(f.data).toString("utf8")) as { events: { amount: number }[] };
  json.events[0]!.amount = amount;
  return { ...f, data: encode(json) };
}

describe("history chain: the verifier", () => {
  it("finds no break in intact histories of several payments, interleaved in the stream", () => {
    const v = verify([...chained("pay_a", [1, 3, 4]), ...chained("pay_b", [2, 5, 6])]);
    expect(v.breaks).to.deep.equal([]);
    expect(v.summary()).to.deep.equal({ frames: 6, payments: 2, legacy: 0, breaks: 0 });
    expect(formatSummary(v.summary())).to.equal(
      "audit: intact: 6 frames, 2 payments, 0 legacy frames (unchained), 0 breaks",
    );
  });

  it("names the payment and the frame after an edited one, with the hash it recorded and the one found", () => {
    const a = chained("pay_a", [1, 2, 3, 4]);
    const tampered = edited(a[1]!, 1);
    const v = verify([a[0]!, tampered, a[2]!, a[3]!, ...chained("pay_b", [5, 6])]);
    expect(v.breaks).to.have.length(1);
    const b = v.breaks[0]!;
    expect(b).to.include({ kind: BreakKind.mismatch, paymentId: "pay_a", seq: 3, prevSeq: 2 });
    expect(b.expected).to.equal(chainHash(tampered.data));
    expect(b.found).to.equal(chainHash(a[1]!.data));
    expect(formatBreak(b)).to.match(
      /^BREAK mismatch payment=pay_a seq=3 prev_seq=2 expected=[0-9a-f]{64} found=/,
    );
  });

  it("names a removed frame where the history resumes", () => {
    const a = chained("pay_a", [1, 2, 3, 4]);
    const v = verify([a[0]!, a[1]!, a[3]!]);
    expect(v.breaks.map((b) => [b.paymentId, b.seq, b.prevSeq])).to.deep.equal([["pay_a", 4, 2]]);
  });

  it("names a history whose first frames were removed: the first left does not chain to the genesis", () => {
    const a = chained("pay_a", [1, 2, 3]);
    const v = verify([a[1]!, a[2]!]);
    expect(v.breaks).to.have.length(1);
    expect(v.breaks[0]).to.include({ paymentId: "pay_a", seq: 2, prevSeq: undefined });
    expect(v.breaks[0]!.expected).to.equal(genesisHash("pay_a"));
  });

  it("names a frame stored under another payment's subject", () => {
    const b = chained("pay_b", [1]);
    const v = new ChainVerifier();
    v.see("pay_a", 1, b[0]!.data);
    expect(v.breaks[0]).to.include({ kind: BreakKind.foreign, paymentId: "pay_a", seq: 1 });
  });

  it("accepts legacy frames without a hash as unchained, and a chain that starts after them", () => {
    const old = legacy("pay_old", [1, 2]);
    // The first chained frame after legacy ones chains to the last legacy frame's bytes.
    const next = encode({
      v: 2,
      paymentId: "pay_old",
      firstEventNo: 3,
      events: [{}],
      prev: chainHash(old[1]!.data),
    });
    const v = verify([...old, { paymentId: "pay_old", seq: 3, data: next }, ...legacy("pay_older", [4])]);
    expect(v.breaks).to.deep.equal([]);
    expect(v.summary()).to.deep.equal({ frames: 4, payments: 2, legacy: 3, breaks: 0 });
  });

  it("names a legacy frame after the chain began: chained history cannot be downgraded unnoticed", () => {
    const a = chained("pay_a", [1, 2]);
    const v = verify([...a, ...legacy("pay_a", [3])]);
    expect(v.breaks.map((b) => [b.kind, b.seq])).to.deep.equal([[BreakKind.unchained, 3]]);
  });

  it("names bytes that are not a frame, and goes on checking after them", () => {
    const a = chained("pay_a", [1, 2]);
    const junk = Buffer.from("not json");
    const after = encode({ v: 2, paymentId: "pay_a", firstEventNo: 3, events: [{}], prev: chainHash(junk) });
    const v = verify([
      ...a,
      { paymentId: "pay_a", seq: 3, data: junk },
      { paymentId: "pay_a", seq: 4, data: after },
    ]);
    expect(v.breaks.map((b) => [b.kind, b.seq])).to.deep.equal([[BreakKind.undecodable, 3]]);
  });

  it("hashes the exact bytes: the same JSON with other whitespace is another frame", () => {
    const data = Buffer.from('{"a":1}');
    expect(chainHash(data)).to.equal("015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
    expect(chainHash(Buffer.from('{"a": 1}'))).to.not.equal(chainHash(data));
    expect(genesisHash("pay_a"))
      .to.match(/^[0-9a-f]{64}$/)
      .and.not.equal(genesisHash("pay_b"));
  });
});
