// What no store downstream can hold, found in any JSON value (actors/payment/core/contract.ts), and the
// card-number walk of the gateway: both iterative, so a value nested thousands deep is an answer,
// not a stack overflow.
import { expect } from "chai";
import { findUnsafeText, MAX_JSON_DEPTH, textProblemOf } from "../../actors/payment/core/contract.ts";
import { PAYMENT_ID_SHAPE, paymentIdFor } from "../../actors/payment/core/ids.ts";
import { cardNumberIssues, containsCardNumber } from "../../gateway/card-in-text.ts";
import { createHash } from "node:crypto";

/** `[[[…"leaf"…]]]`, `depth` arrays around the leaf. */
function nested(depth: number, leaf: unknown = "x"): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe("text no store can hold", () => {
  it("names a NUL and a lone surrogate of either half, and lets paired surrogates and other controls through", () => {
    expect(textProblemOf("a\u0000b")).to.equal("nul_character");
    expect(textProblemOf("a\ud800b")).to.equal("lone_surrogate");
    expect(textProblemOf("a\udfffb")).to.equal("lone_surrogate");
    expect(textProblemOf("\ude00\ud83d")).to.equal("lone_surrogate");
    expect(textProblemOf("emoji \ud83d\ude00, tab\t, bell\u0007, é, 中")).to.equal(undefined);
    expect(textProblemOf("\\u0000 written out")).to.equal(undefined);
  });

  it("finds the first problem in document order, in values, keys and array items, naming a key as [key]", () => {
    expect(findUnsafeText({ a: "ok", b: { c: ["x", "y\u0000"] }, d: "\ud800" })).to.deep.equal({
      path: "b.c.1",
      problem: "nul_character",
    });
    expect(findUnsafeText({ metadata: { "k\ud800": "v" } })).to.deep.equal({
      path: "metadata.[key]",
      problem: "lone_surrogate",
    });
    expect(findUnsafeText({ "\u0000": 1 })).to.deep.equal({ path: "[key]", problem: "nul_character" });
    expect(findUnsafeText("\u0000")).to.deep.equal({ path: "", problem: "nul_character" });
    expect(findUnsafeText({ a: 1, b: null, c: true, d: [1, "x"], e: { f: "g" } })).to.equal(undefined);
  });

  it(`refuses nesting past ${MAX_JSON_DEPTH} levels, 8,000 deep included, without recursion`, () => {
    // The object counts as level 1, so MAX_JSON_DEPTH - 1 arrays inside it are the deepest allowed.
    expect(findUnsafeText({ k: nested(MAX_JSON_DEPTH - 1) })).to.equal(undefined);
    expect(findUnsafeText({ k: nested(MAX_JSON_DEPTH) })?.problem).to.equal("too_deep");
    for (const depth of [5_000, 8_000, 100_000])
      expect(findUnsafeText({ k: nested(depth) })?.problem).to.equal("too_deep");
    expect(findUnsafeText({ k: nested(100_000) }, Infinity)).to.equal(undefined);
  });

  it("walks values 100,000 deep for card numbers without overflowing the stack", () => {
    expect(cardNumberIssues({ k: nested(100_000) }, "body")).to.deep.equal([]);
    const deep = cardNumberIssues({ k: nested(100_000, "4242 4242 4242 4242") }, "body");
    expect(deep).to.have.length(1);
    expect(deep[0]!.code).to.equal("card_number_in_free_text");
  });

  it("keeps the card-number issues in document order, keys named [key], the card's own field exempt", () => {
    const issues = cardNumberIssues(
      {
        reference: "4242424242424242",
        metadata: { "4000000000000002": "x", note: "ok" },
        payment_method: { card: { number: "4242424242424242" } },
      },
      "body",
    );
    expect(issues.map((i) => i.path)).to.deep.equal(["reference", "metadata.[key]"]);
  });

  it("tells a payment id by its shape, which a card number typed into a path never has", () => {
    expect(PAYMENT_ID_SHAPE.test(paymentIdFor("m_alpha", "key-1"))).to.equal(true);
    for (const notAnId of ["378282246310005", "pay_x", "pay_0123456789ABCDEF01234567", ""])
      expect(PAYMENT_ID_SHAPE.test(notAnId), notAnId).to.equal(false);
  });

  it("never takes an identifier for a card number: payment ids, hex keys and UUIDs whose digits pass Luhn", () => {
    // Seen in CI: a capture answered 400 card_number_in_free_text because its payment id held 13+
    // digits in a row that pass Luhn (about one id in three hundred).
    const flagged: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const id = paymentIdFor("m_alpha", `key-${i}`);
      const hex = createHash("sha256").update(`k${i}`).digest("hex");
      const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
      for (const s of [id, hex.slice(0, 24), `order ${uuid}`])
        if (cardNumberIssues({ id: s }, "params").length > 0) flagged.push(s);
    }
    expect(flagged).to.deep.equal([]);
    expect(containsCardNumber("pay_4242424242424242abcdef01")).to.equal(false);
    expect(containsCardNumber("0000-0000-4000-1234-424242424242")).to.equal(false);
  });

  it("still finds a card number beside a word when a separator or a sign stands between", () => {
    for (const text of [
      "4242424242424242",
      "card 4242424242424242",
      "order12 4242 4242 4242 4242",
      "4242-4242-4242-4242 x",
      "pan:4242424242424242;",
      "(4242424242424242)",
    ])
      expect(containsCardNumber(text), text).to.equal(true);
  });
});
