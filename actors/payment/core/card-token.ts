// A card token: how an internal system pays with a card without the card ever crossing NATS in
// clear, nor ever reaching that system. The gateway issues it (POST /v1/card-tokens) to a merchant;
// the merchant's system puts it on a CreatePayment (envelope field `cardToken`) and the worker opens
// it. `ct1.<public>.<sealed>`: the public part (base64url JSON: the card's facts the platform keeps
// anyway, and the expiry) is readable by the holder, so a client can show the card and fill the
// command; the sealed part (config/card-seal.ts, AES-256-GCM under the card key) holds the card, and
// its additional data binds it to the purpose, the merchant and the exact public part, so neither can
// be swapped. The format and binding live here (pure); the sealing is actors/payment/card-seal.ts.
import { z } from "zod";

export const CARD_TOKEN_PREFIX = "ct1";
/** How long a token may be used after it is issued, unless the issuer says otherwise. */
export const CARD_TOKEN_TTL_MS = 15 * 60_000;
/** Longest token accepted: the public part and the seal of a card are ~450 characters. */
export const CARD_TOKEN_MAX_LENGTH = 2048;

/** What the holder may read of a token: the card's facts and when the token stops working. */
export const CardTokenPublic = z.strictObject({
  brand: z.string().max(32),
  last4: z.string().regex(/^\d{4}$/),
  bin_country: z.string().max(8).nullable(),
  exp_month: z.number().int().min(1).max(12),
  exp_year: z.number().int().min(2000).max(2100),
  /** The platform's keyed fingerprint of the card number (the same card gives the same one). */
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  expires_at: z.iso.datetime(),
});
export type CardTokenPublic = z.infer<typeof CardTokenPublic>;

export class CardTokenFormatError extends Error {
  override name = "CardTokenFormatError";
}

/** The sealed part's additional data: the purpose, the merchant and the public part, together. */
export function cardTokenAad(merchantId: string, publicPart: string): string {
  return `switchyard/card-token/v1\u0000${merchantId}\u0000${publicPart}`;
}

export function encodeCardTokenPublic(p: CardTokenPublic): string {
  return Buffer.from(JSON.stringify(p), "utf8").toString("base64url");
}

/** Splits a token into its public part (raw and read) and its seal; CardTokenFormatError if it is not one. */
export function splitCardToken(token: string): {
  publicPart: string;
  facts: CardTokenPublic;
  sealed: string;
} {
  if (token.length > CARD_TOKEN_MAX_LENGTH) throw new CardTokenFormatError("card token is too long");
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  if (first < 0 || second < 0 || token.slice(0, first) !== CARD_TOKEN_PREFIX)
    throw new CardTokenFormatError("not a card token");
  const publicPart = token.slice(first + 1, second);
  const sealed = token.slice(second + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(publicPart) || sealed.length === 0)
    throw new CardTokenFormatError("not a card token");
  let facts: unknown;
  try {
    facts = JSON.parse(Buffer.from(publicPart, "base64url").toString("utf8"));
  } catch {
    throw new CardTokenFormatError("card token's public part is not readable");
  }
  const parsed = CardTokenPublic.safeParse(facts);
  if (!parsed.success) throw new CardTokenFormatError("card token's public part is not readable");
  return { publicPart, facts: parsed.data, sealed };
}
