// The tamper-evident history: each PAY_EVT frame (v2) carries `prev`, the SHA-256 of the exact
// stored bytes of its entity's previous frame, or of the entity's genesis value for the first one.
// This module owns the hash, the genesis value and the pure check of a history (ChainVerifier, fed
// frames in stream order); walking the stream is streams/chain-audit.ts. It knows no payment: it
// hashes bytes and reads only the frame's version and `prev`.
//
// What a chain shows: any stored frame that was changed, removed, reordered or moved to another
// entity, as long as a later frame of the same entity exists (its `prev` no longer matches). The
// head of a history (its last frame) is vouched for by nothing after it: an external copy of the
// heads (or of the whole stream) is what anchors it.
import { createHash } from "node:crypto";
import { decodeJson, EventFrame } from "./envelopes.ts";

/** The first frame of entity `id` chains to sha256(`switchyard:genesis:<id>`). */
export const GENESIS_PREFIX = "switchyard:genesis:";

/** Lowercase hex SHA-256 of bytes as stored (a JetStream message's data). */
export function chainHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** What the first frame of an entity's history carries as `prev`. */
export function genesisHash(id: string): string {
  return createHash("sha256").update(`${GENESIS_PREFIX}${id}`, "utf8").digest("hex");
}

export const BreakKind = {
  /** `prev` is not the hash of the entity's previous stored frame (or of its genesis). */
  mismatch: "mismatch",
  /** A frame without `prev` after the entity's chain began: a legacy frame cannot come after one. */
  unchained: "unchained",
  /** A frame whose `paymentId` is not the entity its subject names. */
  foreign: "foreign",
  /** Not a frame at all. */
  undecodable: "undecodable",
} as const;
export type BreakKind = (typeof BreakKind)[keyof typeof BreakKind];

export type ChainBreak = {
  kind: BreakKind;
  paymentId: string;
  /** Stream sequence of the frame where the break shows. */
  seq: number;
  /** Stream sequence of the entity's frame before it (undefined: it is the first one seen). */
  prevSeq: number | undefined;
  /** For `mismatch`: the hash of the frame at prevSeq (or the genesis hash), and what `prev` says. */
  expected?: string;
  found?: string;
  detail: string;
};

export type ChainSummary = {
  frames: number;
  payments: number;
  /** Frames without `prev` written before the history was chained (not breaks). */
  legacy: number;
  breaks: number;
};

type Head = { hash: string; seq: number; chained: boolean };

/**
 * Checks histories frame by frame, in stream order, keeping one head (hash, seq) per entity: memory
 * grows with the number of entities, not of frames.
 */
export class ChainVerifier {
  readonly #heads = new Map<string, Head>();
  readonly breaks: ChainBreak[] = [];
  #frames = 0;
  #legacy = 0;

  /** One stored frame of entity `paymentId` at stream sequence `seq`, with its exact stored bytes. */
  see(paymentId: string, seq: number, data: Uint8Array): ChainBreak | undefined {
    this.#frames++;
    const head = this.#heads.get(paymentId);
    const hash = chainHash(data);
    const found = this.#check(paymentId, seq, data, head);
    this.#heads.set(paymentId, {
      hash,
      seq,
      chained: (head?.chained ?? false) || found.chained,
    });
    if (found.break) this.breaks.push(found.break);
    return found.break;
  }

  summary(): ChainSummary {
    return {
      frames: this.#frames,
      payments: this.#heads.size,
      legacy: this.#legacy,
      breaks: this.breaks.length,
    };
  }

  #check(
    paymentId: string,
    seq: number,
    data: Uint8Array,
    head: Head | undefined,
  ): { chained: boolean; break?: ChainBreak } {
    const at = { paymentId, seq, prevSeq: head?.seq };
    let json: unknown;
    try {
      json = decodeJson(data);
    } catch {
      json = undefined;
    }
    const frame = EventFrame.safeParse(json);
    if (!frame.success)
      return { chained: false, break: { ...at, kind: BreakKind.undecodable, detail: "not an event frame" } };
    if (frame.data.paymentId !== paymentId)
      return {
        chained: false,
        break: {
          ...at,
          kind: BreakKind.foreign,
          detail: `frame of ${frame.data.paymentId} stored in the history of ${paymentId}`,
        },
      };
    if (frame.data.v === 1) {
      if (!head?.chained) {
        this.#legacy++;
        return { chained: false };
      }
      return {
        chained: false,
        break: {
          ...at,
          kind: BreakKind.unchained,
          detail: `frame without prev after the chain began (at seq ${head.seq} or before)`,
        },
      };
    }
    const expected = head?.hash ?? genesisHash(paymentId);
    if (frame.data.prev === expected) return { chained: true };
    return {
      chained: true,
      break: {
        ...at,
        kind: BreakKind.mismatch,
        expected,
        found: frame.data.prev,
        detail: head
          ? `the frame at seq ${head.seq} was changed, or frames between seq ${head.seq} and ${seq} were removed`
          : `the first frame left does not chain to the genesis: earlier frames were removed, or this one was changed`,
      },
    };
  }
}

/** One line per break, as `npm run audit:verify` prints it. */
export function formatBreak(b: ChainBreak): string {
  const hashes = b.expected !== undefined ? ` expected=${b.expected} found=${b.found ?? "-"}` : "";
  const prev = b.prevSeq !== undefined ? ` prev_seq=${b.prevSeq}` : "";
  return `BREAK ${b.kind} payment=${b.paymentId} seq=${b.seq}${prev}${hashes}: ${b.detail}`;
}

export function formatSummary(s: ChainSummary): string {
  const verdict = s.breaks === 0 ? "intact" : "BROKEN";
  return `audit: ${verdict}: ${s.frames} frames, ${s.payments} payments, ${s.legacy} legacy frames (unchained), ${s.breaks} breaks`;
}
