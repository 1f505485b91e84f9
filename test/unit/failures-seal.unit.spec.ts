// The failure taxonomy's classes and the one backoff scheme; sealed cards naming their key, so the
// card key can rotate while sealed commands are in flight.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { cardKeyId, SealError } from "../../config/card-seal.ts";
import { openCard, sealCard } from "../../actors/payment/card-seal.ts";
import { dispositionFor } from "../../actors/fate.ts";
import { classify } from "../../actors/failures.ts";
import { InvalidEventError } from "../../actors/payment/journal.ts";
import { PaymentEvents } from "../../actors/payment/core/wire.ts";
import { MAX_REDELIVERY_MS, MIN_REDELIVERY_MS, redeliveryDelayMs } from "../../actors/policy/core/retry.ts";
import { CorruptEventError, WrongLastSequenceError } from "../../streams/event-store.ts";

const card = { number: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" };

describe("failure classes", () => {
  it("maps a fence to reload, a corrupt or invalid history and an unreadable card to a dead letter, the rest to a retry", () => {
    const first = { deliveryCount: 1, maxDeliver: 20 };
    const fateOf = (err: Error) => dispositionFor(classify(err), first);
    expect(classify(new WrongLastSequenceError("x")).kind).to.equal("fenced");
    expect(fateOf(new CorruptEventError("x"))).to.deep.include({
      kind: "dead_letter",
      reason: "corrupt_history",
    });
    expect(fateOf(new InvalidEventError("x"))).to.deep.include({ reason: "invalid_event" });
    expect(fateOf(new SealError("x"))).to.deep.include({ reason: "unreadable_card" });
    expect(fateOf(new Error("socket hang up"))).to.deep.equal({ kind: "nak", delayMs: 1_000 });
  });

  it("refuses to write an event whose fee is not a safe integer (the reader would reject it)", () => {
    const at = new Date().toISOString();
    const event = {
      type: "AuthorizationRequested",
      attemptNo: 1,
      psp: "acme",
      idempotencyKey: "pay_x.a1",
      expectedFee: 2 ** 53 + 2,
      at,
    };
    expect(PaymentEvents.safeParse([event]).success).to.equal(false);
    expect(PaymentEvents.safeParse([{ ...event, expectedFee: 120 }]).success).to.equal(true);
  });

  it("backs off from the payment's retry terms, never under the floor nor over the ceiling", () => {
    const terms = {
      cascadeOn: [],
      maxAttempts: 3,
      samePspRetries: 1,
      backoffInitialMs: 2_000,
      backoffMultiplier: 2,
      backoffMaxMs: 600_000,
    };
    expect(redeliveryDelayMs(terms, 1)).to.equal(2_000);
    expect(redeliveryDelayMs(terms, 3)).to.equal(8_000);
    expect(redeliveryDelayMs(terms, 30)).to.equal(MAX_REDELIVERY_MS);
    expect(redeliveryDelayMs({ ...terms, backoffInitialMs: 0 }, 1)).to.equal(MIN_REDELIVERY_MS);
    expect(redeliveryDelayMs(undefined, 2)).to.equal(2 * MIN_REDELIVERY_MS);
  });
});

describe("sealed cards across a key rotation", () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);

  it("names the sealing key, so a retired key still opens what it sealed", () => {
    const sealed = sealCard(oldKey, card, "pay_1");
    expect(sealed.split(".")[1]).to.equal(cardKeyId(oldKey));
    expect(openCard([newKey, oldKey], sealed, "pay_1")).to.deep.equal(card);
    expect(openCard([newKey, oldKey], sealCard(newKey, card, "pay_1"), "pay_1")).to.deep.equal(card);
  });

  it("refuses a seal made with a key it does not hold, or for another payment", () => {
    const sealed = sealCard(oldKey, card, "pay_1");
    expect(() => openCard([newKey], sealed, "pay_1")).to.throw(SealError, /does not hold/);
    expect(() => openCard([oldKey], sealed, "pay_2")).to.throw(SealError);
  });

  it("opens a seal from before key ids with whichever key made it", () => {
    const legacy = sealCard(oldKey, card, "pay_1").split(".")[2]!;
    expect(openCard([newKey, oldKey], legacy, "pay_1")).to.deep.equal(card);
  });
});
