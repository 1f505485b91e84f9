// The card on PAY_CMD: sealed by the gateway, opened by the worker to call a PSP (config/card-seal.ts
// is the cipher and the key ring; what a card is, is the payment's: core/card.ts). Bound to the
// payment id, so a sealed card cannot be replayed on another payment.
import { openText, SealError, sealText } from "../../config/card-seal.ts";
import { CardSecret } from "./core/card.ts";

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
