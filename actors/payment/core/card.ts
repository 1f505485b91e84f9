// Card facts the platform may keep: brand, BIN country, last4. Pure; the PAN passes through and is
// never returned. The keyed fingerprint (an HMAC) is computed at the gateway edge, not here.
import { z } from "zod";

/** The card as a PSP needs it: only ever in memory, or sealed (actors/payment/card-seal.ts). */
export const CardSecret = z.object({
  number: z.string(),
  expMonth: z.number().int(),
  expYear: z.number().int(),
  cvc: z.string(),
});
export type CardSecret = z.infer<typeof CardSecret>;

export const CardBrand = {
  visa: "visa",
  mastercard: "mastercard",
  amex: "amex",
  discover: "discover",
  unknown: "unknown",
} as const;
export type CardBrand = (typeof CardBrand)[keyof typeof CardBrand];

export function luhnValid(pan: string): boolean {
  if (!/^\d{12,19}$/.test(pan)) return false;
  let sum = 0;
  for (let i = 0; i < pan.length; i++) {
    let d = pan.charCodeAt(pan.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function brandOf(pan: string): CardBrand {
  if (/^4/.test(pan)) return CardBrand.visa;
  // Mastercard: 51–55, and the 2-series 2221–2720.
  if (/^(5[1-5]|2(22[1-9]|2[3-9]|[3-6]|7[01]|720))/.test(pan)) return CardBrand.mastercard;
  if (/^3[47]/.test(pan)) return CardBrand.amex;
  if (/^(6011|65|64[4-9])/.test(pan)) return CardBrand.discover;
  return CardBrand.unknown;
}

// A stand-in for a BIN database: the issuing country of a few well-known test BINs.
const BIN_COUNTRIES: Readonly<Record<string, string>> = {
  "424242": "US",
  "400000": "US",
  "555555": "US",
  "378282": "US",
  "401288": "DE",
  "400276": "DE",
  "400250": "FR",
  "400372": "ES",
  "400380": "IT",
  "400528": "NL",
  "400826": "GB",
};

export function binCountryOf(pan: string): string | null {
  return BIN_COUNTRIES[pan.slice(0, 6)] ?? null;
}

export function last4Of(pan: string): string {
  return pan.slice(-4);
}

/** Expiry is the last day of exp_month/exp_year; `today` is "YYYY-MM" so the function stays pure. */
export function isExpired(
  expMonth: number,
  expYear: number,
  today: { year: number; month: number },
): boolean {
  return expYear < today.year || (expYear === today.year && expMonth < today.month);
}
