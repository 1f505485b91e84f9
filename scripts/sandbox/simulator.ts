// The PSP-agnostic core of the sandbox: one SimulatedPsp per simulated provider owns its charges, its
// idempotency store and its run-time behaviour. The wire formats (acme.ts, bolt.ts) sit on top and
// only translate; every money rule (what a card does, what may be captured, voided or refunded) lives
// here so both PSPs behave alike underneath different APIs.

import { binCountryOf, brandOf, type CardBrand } from "../../actors/payment/core/card.ts";
import { regionOf } from "../../actors/policy/core/region.ts";
import type { Region } from "../../actors/policy/core/schemas.ts";
import { CardVerdict, DISPUTE_CARD, verdictFor, withThreeDs } from "./cards.ts";
import type { ClosedBatch } from "./settlement-rows.ts";

export { CardVerdict, declineVerdict, DISPUTE_CARD, SLOW_CARD, verdictFor } from "./cards.ts";
export type { DeclineVerdict } from "./cards.ts";
import { randomId } from "./ids.ts";
export { fingerprint, randomId } from "./ids.ts";

export const ChargeStatus = {
  authorized: "authorized",
  captured: "captured",
  declined: "declined",
  requiresAction: "requires_action",
  voided: "voided",
  partiallyRefunded: "partially_refunded",
  refunded: "refunded",
} as const;
export type ChargeStatus = (typeof ChargeStatus)[keyof typeof ChargeStatus];

/** The merchant's home country the simulated acquirers price regions from (config/policies/routing.json). */
export const HOME_COUNTRY = "NL";

export const MovementKind = { capture: "capture", refund: "refund", void: "void" } as const;
export type MovementKind = (typeof MovementKind)[keyof typeof MovementKind];

/**
 * One money movement the PSP performed on a charge, as its settlement will list it. `reference` is the
 * PSP reference the platform recorded for the operation (acme: the charge id, or the refund's `re_…`;
 * bolt: the modification's pspReference, or the payment's own when captured at authorization).
 * `lineId` is the balance-transaction id it settles under, kept when the movement is deferred.
 */
export type Movement = {
  kind: MovementKind;
  reference: string;
  lineId: string;
  amount: number;
  currency: string;
  at: string;
  /** The batch that settled (or dropped) it; absent while pending. Voids move no money: never batched. */
  batch?: number;
};

/** What the PSP's books need of the operation besides its amount: its own reference and its time. */
export type Operation = { reference: string; at: Date };

/** Every authorization the sandbox created. Amounts in integer minor units. Never a full card number. */
export type Charge = {
  psp: string;
  id: string;
  idempotencyKey: string;
  reference: string;
  amount: number;
  currency: string;
  status: ChargeStatus;
  capturedAmount: number;
  refundedAmount: number;
  createdAt: string;
  last4: string;
  /** The card's BIN, brand and issuing region (from the BIN), kept for pricing; never the PAN. */
  bin: string;
  brand: CardBrand;
  region: Region;
  verdict: CardVerdict;
  /** Captures, refunds and voids, in the order they happened. */
  movements: Movement[];
  /** The W3C trace context the authorization arrived with, so tests can see it was propagated. */
  traceparent?: string;
  actionUrl?: string;
  /** Captured as soon as it is authorized (immediate capture), also after a challenge. */
  autoCapture?: boolean;
  /** Where the challenge page sends the shopper afterwards (the merchant's return_url). */
  returnUrl?: string;
  /** What happened after the call (challenge, asynchronous refunds, disputes): sandbox/later.ts. */
  challenge?: "approved" | "failed";
  refunds?: AsyncRefund[];
  disputes?: SimDispute[];
  /** Paid with the dispute test card: its issuer disputes the payment once captured. */
  disputeAfterCapture?: boolean;
};

/** A refund the PSP answered "pending": its notification says how it ended. */
export type AsyncRefund = {
  id: string;
  amount: number;
  status: "pending" | "succeeded" | "failed";
  at: string;
};

export type SimDispute = {
  id: string;
  amount: number;
  currency: string;
  reason: string;
  status: "open" | "won" | "lost";
  openedAt: string;
  closedAt?: string;
};

export { defaultBehaviour, Fault, type Behaviour } from "./behaviour.ts";
export { isRefusal, type Refusal } from "./refusals.ts";
import { currencyMismatch, notFound, type Refusal } from "./refusals.ts";
import { defaultBehaviour, type Behaviour } from "./behaviour.ts";

/** What reached a simulated PSP's request handling (after the wire format's own validation). */
export type RequestCounts = { total: number; authorizations: number };

/** A stored answer, replayed byte for byte when the same idempotency key comes back. */
export type WireReply = { status: number; body: unknown };

export type NewCharge = {
  idempotencyKey: string;
  reference: string;
  amount: number;
  currency: string;
  capture: boolean;
  card: { number: string; expMonth: number; expYear: number };
  traceparent?: string;
  returnUrl?: string;
  /** The merchant asked for 3-D Secure (a step-up after an authentication_required decline). */
  threeDs?: boolean;
  actionUrl: (id: string) => string;
};

/**
 * What a PSP keeps across restarts (a real PSP never forgets a charge): its charges and its stored
 * answers. Fingerprints are left out: they are keyed with a per-process key, and storing that key
 * beside them would let a card number be brute-forced back. A restored answer is replayed for its
 * key whatever the body; conflict detection holds within one run.
 */
export type PspRecord = {
  charges: Charge[];
  replies: Array<[key: string, reply: WireReply]>;
  batches: ClosedBatch[];
};

/**
 * One change to what a PSP keeps, as the sandbox journals it (sandbox/state-file.ts): a charge as it
 * now is (the live object), an answer stored under a key, or a batch closed with the line ids of the
 * movements it settled or dropped.
 */
export type Change =
  | { kind: "charge"; charge: Charge }
  | { kind: "reply"; key: string; reply: WireReply }
  | { kind: "batch"; batch: ClosedBatch; settled: string[] };

export class SimulatedPsp {
  behaviour: Behaviour = defaultBehaviour();
  readonly requests: RequestCounts = { total: 0, authorizations: 0 };
  /** Called after every change to the charges or stored answers (the sandbox persists on it). */
  onChange: (change: Change) => void = () => undefined;
  /** Called when a charge's money is captured (the dispute test card then opens a chargeback). */
  onCaptured: (charge: Charge) => void = () => undefined;
  private readonly byId = new Map<string, Charge>();
  private readonly byKey = new Map<string, Charge>();
  private readonly replies = new Map<string, { fingerprint: string | undefined; reply: WireReply }>();
  private readonly closed: ClosedBatch[] = [];
  /** Charges let go of by the retention bound (oldest first), since start. */
  #forgotten = 0;

  /**
   * `retain`: how many charges it keeps in memory, the newest (default: all). A real PSP never
   * forgets a charge, but it does not keep them in its caller's process either: a sandbox that
   * kept every charge made `npm start` grow ~2 KB per payment without end (issue 17). Past the
   * bound the oldest charge is let go of, with its authorization's stored answer; the stored
   * answers of other requests (captures, refunds) are bounded to 4 × `retain`, oldest first. A
   * charge let go of answers as an unknown one (a capture of it is "not found").
   */
  constructor(
    readonly name: string,
    private readonly newId: () => string,
    private readonly retain = Number.POSITIVE_INFINITY,
  ) {}

  /** How many charges the retention bound has let go of. */
  get forgotten(): number {
    return this.#forgotten;
  }

  charges(): Charge[] {
    return [...this.byId.values()].map((c) => ({ ...c }));
  }

  charge(id: string): Charge | undefined {
    return this.byId.get(id);
  }

  chargeByKey(idempotencyKey: string): Charge | undefined {
    return this.byKey.get(idempotencyKey);
  }

  /** The stored answer for a key, "conflict" if the key was used for a different request. */
  replay(idempotencyKey: string, requestFingerprint: string): WireReply | "conflict" | undefined {
    const stored = this.replies.get(idempotencyKey);
    if (!stored) return undefined;
    if (stored.fingerprint === undefined) return stored.reply; // restored from an earlier run
    return stored.fingerprint === requestFingerprint ? stored.reply : "conflict";
  }

  record(): PspRecord {
    return {
      charges: this.charges(),
      replies: [...this.replies].map(([key, { reply }]) => [key, reply]),
      batches: [...this.closed],
    };
  }

  /** The closed settlement batches, oldest first. */
  batches(): readonly ClosedBatch[] {
    return this.closed;
  }

  /** Movements not yet in any batch (voids excepted: they settle nothing), oldest first. */
  pendingMovements(): Array<{ charge: Charge; movement: Movement }> {
    const pending: Array<{ charge: Charge; movement: Movement }> = [];
    for (const charge of this.byId.values())
      for (const movement of charge.movements)
        if (movement.batch === undefined && movement.kind !== MovementKind.void)
          pending.push({ charge, movement });
    return pending.sort((a, b) => a.movement.at.localeCompare(b.movement.at));
  }

  /** Records a closed batch and marks the movements it settled (or dropped) as in it. */
  closeBatch(closed: ClosedBatch, settled: readonly Movement[]): void {
    if (closed.batch !== this.closed.length + 1)
      throw new RangeError(`batch ${closed.batch} is out of order`);
    for (const m of settled) m.batch = closed.batch;
    this.closed.push(closed);
    this.onChange({ kind: "batch", batch: closed, settled: settled.map((m) => m.lineId) });
  }

  restore(record: PspRecord): void {
    for (const charge of record.charges) {
      this.byId.set(charge.id, charge);
      this.byKey.set(charge.idempotencyKey, charge);
    }
    for (const [key, reply] of record.replies) this.replies.set(key, { fingerprint: undefined, reply });
    this.closed.push(...record.batches);
    this.#bound();
  }

  remember(idempotencyKey: string, requestFingerprint: string, reply: WireReply): void {
    this.replies.set(idempotencyKey, { fingerprint: requestFingerprint, reply });
    this.onChange({ kind: "reply", key: idempotencyKey, reply });
    this.#bound();
  }

  /** Lets go of the oldest charges and stored answers past the retention bound (Maps keep insertion order). */
  #bound(): void {
    while (this.byId.size > this.retain) {
      const oldest = this.byId.values().next().value;
      if (oldest === undefined) break;
      this.byId.delete(oldest.id);
      this.byKey.delete(oldest.idempotencyKey);
      this.replies.delete(oldest.idempotencyKey);
      this.#forgotten++;
    }
    const replies = 4 * this.retain;
    while (this.replies.size > replies) {
      const key = this.replies.keys().next().value;
      if (key === undefined) break;
      this.replies.delete(key);
    }
  }

  authorize(req: NewCharge, now: Date): Charge {
    const verdict = withThreeDs(verdictFor(req.card, now), req.threeDs === true);
    const id = this.newId();
    const approved = verdict === CardVerdict.approve;
    const status: ChargeStatus = approved
      ? req.capture
        ? ChargeStatus.captured
        : ChargeStatus.authorized
      : verdict === CardVerdict.threeDs
        ? ChargeStatus.requiresAction
        : ChargeStatus.declined;
    const captured = status === ChargeStatus.captured;
    const at = now.toISOString();
    const charge: Charge = {
      psp: this.name,
      id,
      idempotencyKey: req.idempotencyKey,
      reference: req.reference,
      amount: req.amount,
      currency: req.currency,
      status,
      capturedAmount: captured ? req.amount : 0,
      refundedAmount: 0,
      createdAt: at,
      last4: req.card.number.slice(-4),
      bin: req.card.number.slice(0, 6),
      brand: brandOf(req.card.number),
      region: regionOf(binCountryOf(req.card.number), HOME_COUNTRY),
      verdict,
      // Captured at authorization: settled under the authorization's own reference.
      movements: captured ? [movement(MovementKind.capture, id, req.amount, req.currency, at)] : [],
      ...(req.traceparent ? { traceparent: req.traceparent } : {}),
      ...(status === ChargeStatus.requiresAction ? { actionUrl: req.actionUrl(id) } : {}),
      ...(req.capture && { autoCapture: true }),
      ...(req.returnUrl !== undefined && { returnUrl: req.returnUrl }),
    };
    this.byId.set(id, charge);
    this.byKey.set(req.idempotencyKey, charge);
    if (req.card.number === DISPUTE_CARD) charge.disputeAfterCapture = true;
    this.onChange({ kind: "charge", charge });
    if (captured) this.onCaptured(charge);
    this.#bound();
    return charge;
  }

  capture(id: string, amount: number, currency: string, op: Operation): Charge | Refusal {
    const charge = this.byId.get(id);
    if (!charge) return notFound(id);
    if (charge.currency !== currency) return currencyMismatch(charge);
    if (charge.status !== ChargeStatus.authorized) {
      return { refused: "invalid_state", message: `charge ${id} is ${charge.status}, not capturable` };
    }
    if (amount > charge.amount) {
      return {
        refused: "amount_too_large",
        message: `capture ${amount} exceeds authorized ${charge.amount}`,
      };
    }
    // One capture per authorization, as most acquirers do: the uncaptured rest is released.
    charge.capturedAmount = amount;
    charge.status = ChargeStatus.captured;
    charge.movements.push(
      movement(MovementKind.capture, op.reference, amount, currency, op.at.toISOString()),
    );
    this.onChange({ kind: "charge", charge });
    this.onCaptured(charge);
    return charge;
  }

  void(id: string, op: Operation): Charge | Refusal {
    const charge = this.byId.get(id);
    if (!charge) return notFound(id);
    if (charge.status !== ChargeStatus.authorized && charge.status !== ChargeStatus.requiresAction) {
      return { refused: "invalid_state", message: `charge ${id} is ${charge.status}, not voidable` };
    }
    charge.status = ChargeStatus.voided;
    charge.movements.push(movement(MovementKind.void, op.reference, 0, charge.currency, op.at.toISOString()));
    this.onChange({ kind: "charge", charge });
    return charge;
  }

  /** `later`: the refund is taken, not done (asynchronous refunds): no money moves until it ends. */
  refund(id: string, amount: number, currency: string, op: Operation, later = false): Charge | Refusal {
    const charge = this.byId.get(id);
    if (!charge) return notFound(id);
    if (charge.currency !== currency) return currencyMismatch(charge);
    if (charge.status !== ChargeStatus.captured && charge.status !== ChargeStatus.partiallyRefunded) {
      return { refused: "invalid_state", message: `charge ${id} is ${charge.status}, not refundable` };
    }
    const refundable = charge.capturedAmount - charge.refundedAmount;
    if (amount > refundable) {
      return { refused: "amount_too_large", message: `refund ${amount} exceeds refundable ${refundable}` };
    }
    charge.refundedAmount += amount;
    if (later)
      (charge.refunds ??= []).push({ id: op.reference, amount, status: "pending", at: op.at.toISOString() });
    else
      charge.movements.push(
        movement(MovementKind.refund, op.reference, amount, currency, op.at.toISOString()),
      );
    charge.status =
      charge.refundedAmount === charge.capturedAmount
        ? ChargeStatus.refunded
        : ChargeStatus.partiallyRefunded;
    this.onChange({ kind: "charge", charge });
    return charge;
  }
}

export function movement(
  kind: MovementKind,
  reference: string,
  amount: number,
  currency: string,
  at: string,
): Movement {
  return { kind, reference, lineId: randomId("txn_", 24), amount, currency, at };
}
