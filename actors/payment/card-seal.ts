// The card on PAY_CMD: sealed by the gateway, opened by the worker to call a PSP (config/card-seal.ts
// is the cipher and the key ring; what a card is, is the payment's: core/card.ts). Bound to the
// payment id, so a sealed card cannot be replayed on another payment. Also the card token an
// internal system pays with (core/card-token.ts): sealed for a merchant by the gateway, opened by the
// worker, which reseals the card for the payment as if the gateway had.
import { openText, SealError, sealText } from "../../config/card-seal.ts";
import { CardSecret } from "./core/card.ts";
import {
  CARD_TOKEN_PREFIX,
  CardTokenFormatError,
  cardTokenAad,
  encodeCardTokenPublic,
  splitCardToken,
  type CardTokenPublic,
} from "./core/card-token.ts";

export function sealCard(key: Buffer, card: CardSecret, paymentId: string): string {
  return sealText(key, JSON.stringify(card), paymentId);
}

/** The card sealed for `paymentId`, with the current or a retired key; SealError when it is not one. */
export function openCard(keys: Buffer | readonly Buffer[], sealed: string, paymentId: string): CardSecret {
  const clear = openText(keys, sealed, paymentId);
  try {
    return CardSecret.parse(JSON.parse(clear));
  } catch (cause) {
    throw new SealError("sealed card cannot be opened (not a card)", { cause });
  }
}

/** A token for `merchantId` holding the card, readable facts `facts` (their expires_at included). */
export function issueCardToken(
  key: Buffer,
  merchantId: string,
  card: CardSecret,
  facts: CardTokenPublic,
): string {
  const publicPart = encodeCardTokenPublic(facts);
  return `${CARD_TOKEN_PREFIX}.${publicPart}.${sealText(key, JSON.stringify(card), cardTokenAad(merchantId, publicPart))}`;
}

export const CardTokenRefusal = {
  /** Not a token, forged, altered, another merchant's, or sealed with a key this process lacks. */
  invalid: "card_token_invalid",
  /** A real token of this merchant, past its expires_at when the command was stored. */
  expired: "card_token_expired",
} as const;
export type CardTokenRefusal = (typeof CardTokenRefusal)[keyof typeof CardTokenRefusal];

export class CardTokenError extends Error {
  override name = "CardTokenError";
  constructor(
    readonly code: CardTokenRefusal,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The card and its facts, if `token` is one this platform sealed for `merchantId` and it had not
 * expired at `at` (when the command carrying it was stored). The facts come from the token, never
 * from the command. CardTokenError otherwise; its message never holds any part of the token.
 */
export function openCardToken(
  keys: Buffer | readonly Buffer[],
  token: string,
  merchantId: string,
  at: Date,
): { card: CardSecret; facts: CardTokenPublic } {
  let split: ReturnType<typeof splitCardToken>;
  try {
    split = splitCardToken(token);
  } catch (cause) {
    const why = cause instanceof CardTokenFormatError ? cause.message : "not a card token";
    throw new CardTokenError(CardTokenRefusal.invalid, why, { cause });
  }
  let card: CardSecret;
  try {
    card = CardSecret.parse(
      JSON.parse(openText(keys, split.sealed, cardTokenAad(merchantId, split.publicPart))),
    );
  } catch (cause) {
    throw new CardTokenError(
      CardTokenRefusal.invalid,
      "card token cannot be opened for this merchant (forged, altered, another merchant's, or sealed with a retired key)",
      { cause },
    );
  }
  if (Date.parse(split.facts.expires_at) <= at.getTime())
    throw new CardTokenError(CardTokenRefusal.expired, `card token expired at ${split.facts.expires_at}`);
  return { card, facts: split.facts };
}
