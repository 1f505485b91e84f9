// Money: integer minor units with an ISO 4217 currency. All amount arithmetic lives here.

/** ISO 4217 currencies we accept, with their minor-unit exponent. */
export const CURRENCY_EXPONENTS: Readonly<Record<string, number>> = {
  EUR: 2,
  USD: 2,
  GBP: 2,
  CHF: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  CZK: 2,
  HUF: 2,
  RON: 2,
  BGN: 2,
  ISK: 0,
  JPY: 0,
  KRW: 0,
  CLP: 0,
  VND: 0,
  KWD: 3,
  BHD: 3,
  JOD: 3,
  OMR: 3,
  TND: 3,
  CAD: 2,
  AUD: 2,
  NZD: 2,
  SGD: 2,
  HKD: 2,
  CNY: 2,
  INR: 2,
  BRL: 2,
  MXN: 2,
  ZAR: 2,
  TRY: 2,
  AED: 2,
};

/** The largest amount accepted, in minor units, whatever the currency (fits a JS safe integer by far). */
export const MAX_AMOUNT = 99_999_999_999;

export function isCurrency(code: string): boolean {
  return Object.hasOwn(CURRENCY_EXPONENTS, code);
}

export function exponentOf(currency: string): number {
  const e = CURRENCY_EXPONENTS[currency];
  if (e === undefined) throw new RangeError(`unknown currency ${currency}`);
  return e;
}

/** 1234 EUR → "12.34"; 1234 JPY → "1234"; 1234 KWD → "1.234". Exact: no floating point. */
export function toDecimalString(amount: number, currency: string): string {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`bad amount ${amount}`);
  const e = exponentOf(currency);
  if (e === 0) return String(amount);
  const s = String(amount).padStart(e + 1, "0");
  return `${s.slice(0, -e)}.${s.slice(-e)}`;
}

/** "12.34" EUR → 1234. Rejects more decimals than the currency has. Exact: no floating point. */
export function fromDecimalString(value: string, currency: string): number {
  const e = exponentOf(currency);
  const m = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (!m) throw new RangeError(`bad decimal amount ${value}`);
  const frac = m[2] ?? "";
  if (frac.length > e) throw new RangeError(`${value} has more than ${e} decimals for ${currency}`);
  const amount = Number(m[1]! + frac.padEnd(e, "0"));
  // Past 2^53 a Number is no longer exact: refuse rather than silently round.
  if (!Number.isSafeInteger(amount)) throw new RangeError(`${value} is too large`);
  return amount;
}
