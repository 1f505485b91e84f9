// What the simulated issuer does with each test card: the card numbers tests and the README name, and
// an expiry check. PSP-neutral; simulator.ts applies it.
import { luhnValid } from "../../actors/payment/core/card.ts";

/** What the card number (and expiry) make the simulated issuer do. */
export const CardVerdict = {
  approve: "approve",
  doNotHonor: "do_not_honor",
  insufficientFunds: "insufficient_funds",
  processingError: "processing_error",
  expired: "expired",
  invalidNumber: "invalid_number",
  threeDs: "three_ds",
  /** Declined for strong customer authentication, unless 3-D Secure is requested: then a challenge. */
  authenticationRequired: "authentication_required",
} as const;
export type CardVerdict = (typeof CardVerdict)[keyof typeof CardVerdict];

/** The verdicts that end in a decline: the ones each wire format words in its own codes. */
export type DeclineVerdict = Exclude<CardVerdict, "approve" | "three_ds">;
export const declineVerdict = (v: CardVerdict): DeclineVerdict | undefined =>
  v === CardVerdict.approve || v === CardVerdict.threeDs ? undefined : v;

export const SLOW_CARD = "4000000000000077";
/** Captures as usual, then its issuer opens a chargeback (sandbox/later.ts). */
export const DISPUTE_CARD = "4000000000000259";
const CARD_VERDICTS: Readonly<Record<string, CardVerdict>> = {
  "4000000000000002": CardVerdict.doNotHonor,
  "4000000000009995": CardVerdict.insufficientFunds,
  "4000000000000119": CardVerdict.processingError,
  "4000000000003220": CardVerdict.threeDs,
  "4000002760003184": CardVerdict.authenticationRequired,
};

/**
 * What the issuer does with 3-D Secure requested (a step-up): a card that wants authentication gets
 * its challenge; any other card answers as it would without (frictionless).
 */
export const withThreeDs = (v: CardVerdict, requested: boolean): CardVerdict =>
  requested && v === CardVerdict.authenticationRequired ? CardVerdict.threeDs : v;

export function verdictFor(
  card: { number: string; expMonth: number; expYear: number },
  now: Date,
): CardVerdict {
  if (!luhnValid(card.number)) return CardVerdict.invalidNumber;
  const listed = CARD_VERDICTS[card.number];
  if (listed) return listed;
  const expiresAfter = card.expYear * 12 + card.expMonth;
  if (expiresAfter < now.getUTCFullYear() * 12 + now.getUTCMonth() + 1) return CardVerdict.expired;
  return CardVerdict.approve;
}
