// The pure rules of the NATS contract for internal systems: the command and reply subjects, the card
// token's format and seal, masking card numbers in what a dead letter keeps, and what the client
// builds (ids as the gateway derives them, a fingerprint with no card number in it).
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { CardTokenError, issueCardToken, openCardToken } from "../../actors/payment/card-seal.ts";
import {
  containsCardNumber,
  maskCardNumbers,
  redactCardNumbers,
} from "../../actors/payment/core/card-in-text.ts";
import {
  CardTokenFormatError,
  splitCardToken,
  type CardTokenPublic,
} from "../../actors/payment/core/card-token.ts";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { buildCreate, buildFollowUp } from "../../streams/client/commands.ts";
import {
  commandSubject,
  merchantEventSubject,
  parseCommandSubject,
  partitionOf,
  replyAllowed,
  replyInbox,
  topology,
} from "../../streams/topology.ts";

const PAN = "4242424242424242";
const key = randomBytes(32);
const facts = (over: Partial<CardTokenPublic> = {}): CardTokenPublic => ({
  brand: "visa",
  last4: "4242",
  bin_country: "US",
  exp_month: 12,
  exp_year: 2031,
  fingerprint: "a".repeat(64),
  expires_at: new Date(Date.now() + 60_000).toISOString(),
  ...over,
});
const card = { number: PAN, expMonth: 12, expYear: 2031, cvc: "123" };

describe("command and reply subjects", () => {
  const t = topology("tp", 8);

  it("puts the merchant between the partition and the payment, and reads both layouts back", () => {
    const id = paymentIdFor("m_acme", "k1");
    const s = commandSubject(t, "m_acme", id);
    expect(s).to.equal(`tp.pay.cmd.${partitionOf(t, id)}.m_acme.${id}`);
    expect(parseCommandSubject(t, s)).to.deep.equal({
      partition: partitionOf(t, id),
      merchant: "m_acme",
      paymentId: id,
    });
    expect(parseCommandSubject(t, `tp.pay.cmd.3.${id}`)).to.deep.equal({
      partition: 3,
      merchant: undefined,
      paymentId: id,
    });
    expect(commandSubject(t, undefined, id)).to.equal(`tp.pay.cmd.${partitionOf(t, id)}.~.${id}`);
    for (const bad of [
      "tp.pay.cmd",
      "tp.pay.cmd.x.m.p",
      "tp.pay.cmd.-1.m.p",
      "tp.pay.cmd.1.a.b.c",
      "tp.pay.evt.1.m.p",
    ])
      expect(parseCommandSubject(t, bad), bad).to.equal(undefined);
  });

  it("lets a worker answer only the platform's inbox or the command's own merchant's", () => {
    expect(replyInbox(t, undefined, "u")).to.equal("tp.pay.reply.~gw.u");
    expect(replyAllowed(t, "tp.pay.reply.~gw.u.1", "m_acme")).to.equal(true);
    expect(replyAllowed(t, "tp.pay.reply.m_acme.r.1", "m_acme")).to.equal(true);
    expect(replyAllowed(t, "tp.pay.reply.m_beta.r.1", "m_acme")).to.equal(false);
    expect(replyAllowed(t, "tp.pay.reply.m_acme.r.1", undefined)).to.equal(false);
    for (const bad of [
      "tp.pay.evt.x",
      "pay.reply.m_acme.r",
      "tp.pay.reply.m_acme",
      "tp.pay.reply.m_acme.*",
      "tp.pay.reply.m_acme.>",
      "tp.pay.reply.m_acme..x",
      "tp.pay.replyx.m_acme.r",
    ])
      expect(replyAllowed(t, bad, "m_acme"), bad).to.equal(false);
    expect(merchantEventSubject(t, "m_acme", "pay_1")).to.equal("tp.pay.out.m_acme.pay_1");
    expect(t.merchantEventStream).to.equal("tp_PAY_OUT");
  });
});

describe("card tokens", () => {
  it("open for their merchant only, before they expire, and hold the card", () => {
    const token = issueCardToken(key, "m_acme", card, facts());
    expect(token).not.to.include(PAN);
    expect(openCardToken([key], token, "m_acme", new Date()).card).to.deep.equal(card);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).to.be.instanceOf(CardTokenError);
        expect((err as Error).message).not.to.include(PAN);
        return (err as CardTokenError).code;
      }
      return "opened";
    };
    expect(code(() => openCardToken([key], token, "m_beta", new Date()))).to.equal("card_token_invalid");
    expect(code(() => openCardToken([randomBytes(32)], token, "m_acme", new Date()))).to.equal(
      "card_token_invalid",
    );
    expect(code(() => openCardToken([key], token, "m_acme", new Date(Date.now() + 120_000)))).to.equal(
      "card_token_expired",
    );
    // The readable part is bound to the seal: a token claiming another card's facts does not open.
    const [, , ...sealed] = token.split(".");
    const swapped = `ct1.${Buffer.from(JSON.stringify(facts({ last4: "1111" }))).toString("base64url")}.${sealed.join(".")}`;
    expect(code(() => openCardToken([key], swapped, "m_acme", new Date()))).to.equal("card_token_invalid");
    for (const bad of [
      "",
      "ct1",
      "ct1..x",
      "ct2.e30.x",
      `ct1.${"A".repeat(3000)}.x`,
      "ct1.!!!.x",
      "ct1.e30.x",
    ])
      expect(
        code(() => openCardToken([key], bad, "m_acme", new Date())),
        bad,
      ).to.equal("card_token_invalid");
    expect(() => splitCardToken("ct1.bm90IGpzb24.x")).to.throw(CardTokenFormatError);
  });
});

describe("masking card numbers in what a dead letter keeps", () => {
  it("masks every digit of a card number but the last four, keeping separators, and leaves other text alone", () => {
    expect(maskCardNumbers(`ref ${PAN} end`)).to.equal("ref ************4242 end");
    expect(maskCardNumbers("x 4242 4242 4242 4242 y")).to.equal("x **** **** **** 4242 y");
    expect(maskCardNumbers("4242-4242-4242-4242")).to.equal("****-****-****-4242");
    expect(maskCardNumbers('{"amount":2500,"at":"2026-12-06T13:20:48.123Z"}')).to.equal(
      '{"amount":2500,"at":"2026-12-06T13:20:48.123Z"}',
    );
    expect(redactCardNumbers('{"r":"\\u0034242424242424242"}')).to.equal('{"r":"************4242"}');
  });

  it("leaves nothing containsCardNumber finds (property)", () => {
    const luhn = (body: string) => {
      for (let d = 0; d <= 9; d++) if (containsCardNumber(` ${body}${d} `)) return `${body}${d}`;
      return undefined;
    };
    fc.assert(
      fc.property(
        fc.stringMatching(/^[1-9][0-9]{11,17}$/),
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }),
        (body, a, b) => {
          const pan = luhn(body);
          if (pan === undefined) return;
          const masked = redactCardNumbers(`${a} ${pan} ${b}`);
          expect(masked).not.to.include(pan);
          expect(containsCardNumber(masked)).to.equal(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** The request fingerprint of a built create or follow-up. */
const fp = (b: { envelope: { command: object } }) =>
  (b.envelope.command as { requestFingerprint: string }).requestFingerprint;

describe("what the client builds", () => {
  // Issued when the tests run, not when mocha loads the file (a whole suite's run later it expired).
  let token: string;
  before(() => {
    token = issueCardToken(key, "m_acme", card, facts());
  });

  it("derives the payment and operation ids as the gateway does, and message ids from the key", () => {
    const c = buildCreate(
      "m_acme",
      { idempotencyKey: "k1", amount: 100, currency: "EUR", cardToken: token },
      new Date(),
    );
    expect(c.paymentId).to.equal(paymentIdFor("m_acme", "k1"));
    expect(c.msgId).to.equal(`client:${c.paymentId}`);
    const f = buildFollowUp("m_acme", c.paymentId, "capture", { idempotencyKey: "k2" }, new Date());
    const again = buildFollowUp(
      "m_acme",
      c.paymentId,
      "capture",
      { idempotencyKey: "k2" },
      new Date(Date.now() + 5000),
    );
    expect(f.msgId).to.equal(again.msgId);
    expect(fp(f)).to.equal(fp(again));
  });

  it("fingerprints the request without the token (the card's fingerprint instead), and with nothing of the card number", () => {
    const input = { idempotencyKey: "k1", amount: 100, currency: "EUR", cardToken: token };
    const a = buildCreate("m_acme", input, new Date());
    const b = buildCreate(
      "m_acme",
      { ...input, cardToken: issueCardToken(key, "m_acme", card, facts()) },
      new Date(),
    );
    const other = buildCreate(
      "m_acme",
      { ...input, cardToken: issueCardToken(key, "m_acme", card, facts({ fingerprint: "b".repeat(64) })) },
      new Date(),
    );
    expect(fp(a)).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(fp(b)).to.equal(fp(a));
    expect(fp(other)).not.to.equal(fp(a));
    expect(JSON.stringify(a.envelope)).not.to.include(PAN);
  });

  it("refuses an expired token before publishing", () => {
    const old = issueCardToken(
      key,
      "m_acme",
      card,
      facts({ expires_at: new Date(Date.now() - 1).toISOString() }),
    );
    expect(() =>
      buildCreate("m_acme", { idempotencyKey: "k", amount: 1, currency: "EUR", cardToken: old }, new Date()),
    )
      .to.throw()
      .with.property("code", "card_token_expired");
  });
});
