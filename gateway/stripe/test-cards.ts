// Stripe's test payment method ids (`pm_card_visa`, `pm_card_chargeDeclined`…) → the sandbox's
// test cards (scripts/sandbox/cards.ts) that behave the same way. Only these ids are known: this
// layer stores no payment methods (a saved card is the card-token work's, not this layer's).
import type { CardData } from "./params.ts";

/** A fixed expiry: the same token always makes the same card, so a retried confirm is the same request. */
const EXP = { exp_month: "12", exp_year: "2034", cvc: "123" } as const;

export const TEST_PAYMENT_METHODS: Readonly<Record<string, string>> = {
  pm_card_visa: "4242424242424242",
  pm_card_visa_debit: "4000056655665556",
  pm_card_mastercard: "5555555555554444",
  pm_card_amex: "378282246310005",
  /** Declined by every PSP it cascades to: generic_decline, as Stripe says of this card. */
  pm_card_chargeDeclined: "4000000000000002",
  pm_card_chargeDeclinedInsufficientFunds: "4000000000009995",
  pm_card_chargeDeclinedProcessingError: "4000000000000119",
  /** A 3-D Secure challenge: requires_action with next_action.redirect_to_url. */
  pm_card_threeDSecure2Required: "4000000000003220",
  pm_card_threeDSecureRequired: "4000000000003220",
  /** Wants strong customer authentication: the platform steps up to 3-D Secure, so requires_action. */
  pm_card_authenticationRequired: "4000002760003184",
};

export function testCardOf(pm: string): CardData | undefined {
  const number = TEST_PAYMENT_METHODS[pm];
  return number === undefined
    ? undefined
    : { number, exp_month: Number(EXP.exp_month), exp_year: Number(EXP.exp_year), cvc: EXP.cvc };
}
