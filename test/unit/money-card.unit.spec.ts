// Money (exact minor-unit arithmetic) and card facts (Luhn, brand, last4, expiry).
import { expect } from "chai";
import fc from "fast-check";
import { brandOf, binCountryOf, isExpired, last4Of, luhnValid } from "../../actors/payment/core/card.ts";
import {
  CURRENCY_EXPONENTS,
  MAX_AMOUNT,
  exponentOf,
  fromDecimalString,
  isCurrency,
  toDecimalString,
} from "../../actors/payment/core/money.ts";

describe("money", () => {
  it("round-trips every amount through its decimal string, in every currency", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_AMOUNT }),
        fc.constantFrom(...Object.keys(CURRENCY_EXPONENTS)),
        (amount, currency) => {
          const s = toDecimalString(amount, currency);
          expect(fromDecimalString(s, currency)).to.equal(amount);
          const decimals = s.split(".")[1] ?? "";
          expect(decimals.length).to.equal(exponentOf(currency));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("writes EUR with two decimals, JPY with none and KWD with three", () => {
    expect(toDecimalString(1234, "EUR")).to.equal("12.34");
    expect(toDecimalString(5, "EUR")).to.equal("0.05");
    expect(toDecimalString(0, "EUR")).to.equal("0.00");
    expect(toDecimalString(1234, "JPY")).to.equal("1234");
    expect(toDecimalString(1234, "KWD")).to.equal("1.234");
    expect(toDecimalString(7, "KWD")).to.equal("0.007");
  });

  it("reads decimal strings exactly, padding missing decimals", () => {
    expect(fromDecimalString("12.34", "EUR")).to.equal(1234);
    expect(fromDecimalString("12.3", "EUR")).to.equal(1230);
    expect(fromDecimalString("12", "EUR")).to.equal(1200);
    expect(fromDecimalString("0.10", "EUR")).to.equal(10);
    expect(fromDecimalString("1234", "JPY")).to.equal(1234);
    expect(fromDecimalString("1.234", "KWD")).to.equal(1234);
    // 0.1 + 0.2 style float errors would show here
    expect(fromDecimalString("0.29", "EUR")).to.equal(29);
    expect(fromDecimalString("1.005", "KWD")).to.equal(1005);
  });

  it("rejects more decimals than the currency has", () => {
    expect(() => fromDecimalString("12.345", "EUR")).to.throw(RangeError, /more than 2 decimals/);
    expect(() => fromDecimalString("12.5", "JPY")).to.throw(RangeError, /more than 0 decimals/);
    expect(() => fromDecimalString("1.2345", "KWD")).to.throw(RangeError, /more than 3 decimals/);
  });

  it("rejects malformed amounts, negative amounts and unknown currencies", () => {
    for (const bad of ["", "-1", "1.", ".5", "1,50", "1e3", " 1", "abc"])
      expect(() => fromDecimalString(bad, "EUR"), bad).to.throw(RangeError);
    expect(() => fromDecimalString("90071992547409.93", "EUR")).to.throw(RangeError, /too large/);
    expect(() => toDecimalString(-1, "EUR")).to.throw(RangeError);
    expect(() => toDecimalString(1.5, "EUR")).to.throw(RangeError);
    expect(() => toDecimalString(1, "XXX")).to.throw(RangeError, /unknown currency/);
    expect(isCurrency("EUR")).to.equal(true);
    expect(isCurrency("XXX")).to.equal(false);
    expect(isCurrency("toString")).to.equal(false);
  });
});

describe("card facts", () => {
  const SANDBOX_CARDS = [
    "4242424242424242",
    "4000000000000002",
    "4000000000009995",
    "4000000000003220",
    "4000000000000077",
  ];

  it("accepts the Luhn check digit of every sandbox test card", () => {
    for (const pan of SANDBOX_CARDS) expect(luhnValid(pan), pan).to.equal(true);
  });

  it("rejects a card number with any single digit changed", () => {
    for (const pan of SANDBOX_CARDS)
      for (let i = 0; i < pan.length; i++) {
        const d = Number(pan[i]);
        const wrong = `${pan.slice(0, i)}${(d + 1) % 10}${pan.slice(i + 1)}`;
        expect(luhnValid(wrong), wrong).to.equal(false);
      }
  });

  it("rejects numbers that are too short, too long or not digits", () => {
    expect(luhnValid("42424242424")).to.equal(false);
    expect(luhnValid("42424242424242424242")).to.equal(false);
    expect(luhnValid("4242 4242 4242 4242")).to.equal(false);
    expect(luhnValid("")).to.equal(false);
  });

  it("tells the brand from the number's prefix", () => {
    expect(brandOf("4242424242424242")).to.equal("visa");
    expect(brandOf("5555555555554444")).to.equal("mastercard");
    expect(brandOf("2221000000000009")).to.equal("mastercard");
    expect(brandOf("2720990000000000")).to.equal("mastercard");
    expect(brandOf("378282246310005")).to.equal("amex");
    expect(brandOf("6011111111111117")).to.equal("discover");
    expect(brandOf("9999999999999995")).to.equal("unknown");
  });

  it("keeps the Mastercard 2-series to 2221–2720", () => {
    expect(brandOf("2220990000000000")).to.equal("unknown");
    expect(brandOf("2721000000000000")).to.equal("unknown");
  });

  it("keeps the last four digits and the BIN country of known test BINs", () => {
    expect(last4Of("4000000000003220")).to.equal("3220");
    expect(binCountryOf("4242424242424242")).to.equal("US");
    expect(binCountryOf("4000056655665556")).to.equal(null);
  });

  it("treats a card as valid through the last day of its expiry month", () => {
    const today = { year: 2025, month: 6 };
    expect(isExpired(6, 2025, today)).to.equal(false);
    expect(isExpired(7, 2025, today)).to.equal(false);
    expect(isExpired(1, 2026, today)).to.equal(false);
    expect(isExpired(5, 2025, today)).to.equal(true);
    expect(isExpired(12, 2024, today)).to.equal(true);
  });
});
