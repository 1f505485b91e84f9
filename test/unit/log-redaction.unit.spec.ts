// The logger censors card data and keys by path (config/log.ts). It used pino's `redact`; it now
// censors in a formatter, which must print what redact printed, for every line, secret or not.
import { expect } from "chai";
import fc from "fast-check";
import { pino } from "pino";
import { CENSOR, createLogger } from "../../config/log.ts";

const PATHS = [
  "*.number",
  "*.cvc",
  "*.card.number",
  "*.card.cvc",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "sealedCard",
  "*.sealedCard",
];

type Sink = { lines: string[]; write(s: string): void };
const sink = (): Sink => {
  const lines: string[] = [];
  return { lines, write: (s) => lines.push(s) };
};
const withoutTime = (line: string | undefined) => (line ?? "").replace(/"time":\d+,/, "");

/** Writes `obj` through the old configuration (pino redact) and through createLogger. */
function both(obj: Record<string, unknown>, msg = "m", base: Record<string, unknown> = { service: "s" }) {
  const a = sink();
  const b = sink();
  const before = pino({ level: "info", base: { ...base }, redact: { paths: PATHS, censor: CENSOR } }, a);
  const now = createLogger("info", base, b);
  before.info(obj, msg);
  now.info(obj, msg);
  before.child({ role: "r", card: { number: "1" } }).warn(obj, msg);
  now.child({ role: "r", card: { number: "1" } }).warn(obj, msg);
  return { before: a.lines.map(withoutTime), now: b.lines.map(withoutTime) };
}

const PAN = "4242424242424242";

describe("log redaction", () => {
  it("censors card numbers, CVCs, authorization headers and sealed cards, as pino's redact did", () => {
    class CardError extends Error {
      number = PAN;
    }
    const cases: Record<string, unknown>[] = [
      { paymentId: "pay_1", status: "authorized", from: null, n: 3, ok: true },
      { card: { number: PAN, cvc: "123", brand: "visa" } },
      { payment: { card: { number: PAN, cvc: "123" }, amount: 1 }, other: { cvc: undefined } },
      {
        authorization: `Bearer sk_${PAN}`,
        sealedCard: "v2.x.y",
        nested: { sealedCard: "z", authorization: 1 },
      },
      { req: { method: "POST", headers: { authorization: "Bearer k", host: "h" } } },
      { err: new CardError("declined"), cause: { number: PAN } },
      { err: new Error("plain"), authorization: undefined, x: { headers: null, card: "text" } },
    ];
    for (const obj of cases) {
      const { before, now } = both(obj);
      expect(now).to.deep.equal(before);
      expect(now.join("")).not.to.include(PAN);
    }
  });

  it("leaves the logged object itself unchanged", () => {
    const obj = { card: { number: PAN }, authorization: "Bearer k" };
    createLogger("info", {}, sink()).info(obj, "m");
    expect(obj).to.deep.equal({ card: { number: PAN }, authorization: "Bearer k" });
  });

  it("prints what redact printed for any JSON fields", () => {
    const key = fc.constantFrom("number", "cvc", "card", "headers", "authorization", "sealedCard", "a", "b");
    const json = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("v"), { maxLength: 2 }),
        fc.dictionary(key, tie("v"), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(key, json, { maxKeys: 5 }), fc.string(), (obj, msg) => {
        const { before, now } = both(obj, msg);
        expect(now).to.deep.equal(before);
      }),
      { numRuns: 500 },
    );
  });
});
