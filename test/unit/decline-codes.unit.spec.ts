// The normalized outcome codes, their classes, and how each adapter's wire codes map onto them.
import { expect } from "chai";
import { acmeDecline, ACME_CAPABILITIES } from "../../actors/psp/acme.ts";
import { boltDecline, BOLT_CAPABILITIES } from "../../actors/psp/bolt.ts";
import {
  ACME_DECLINES,
  AuthRequiredCode,
  BOLT_REFUSALS,
  classify,
  DeclineCode,
  HardDeclineCode,
  SoftDeclineCode,
  TechnicalCode,
  UnknownCode,
} from "../../actors/psp/decline-codes.ts";
import { capabilitiesOf, createConnectors } from "../../actors/psp/registry.ts";

describe("normalized decline codes", () => {
  const groups = [
    [HardDeclineCode, "hard_decline"],
    [SoftDeclineCode, "soft_decline"],
    [AuthRequiredCode, "auth_required"],
    [TechnicalCode, "technical"],
    [UnknownCode, "unknown"],
  ] as const;
  for (const [codes, cls] of groups) {
    it(`classifies ${Object.values(codes).join(", ")} as ${cls}`, () => {
      for (const code of Object.values(codes)) expect(classify(code), code).to.equal(cls);
    });
  }

  it("names the codes the retry rules depend on in the class they need", () => {
    expect(classify("insufficient_funds")).to.equal("hard_decline");
    expect(classify("do_not_honor")).to.equal("soft_decline");
    expect(classify("card_declined")).to.equal("soft_decline");
    expect(classify("circuit_open")).to.equal("technical");
    expect(classify("timeout")).to.equal("unknown");
    expect(classify("authentication_required")).to.equal("auth_required");
  });

  it("classifies a code it does not know as a hard decline, so it is never retried", () => {
    expect(classify("something_new_from_a_psp")).to.equal("hard_decline");
    expect(classify("")).to.equal("hard_decline");
  });

  it("maps every acme and bolt wire code onto a decline code, never a technical or unknown one", () => {
    const declineCodes = new Set<string>(Object.values(DeclineCode));
    for (const code of [...Object.values(ACME_DECLINES), ...Object.values(BOLT_REFUSALS)])
      expect(declineCodes.has(code), code).to.equal(true);
  });
});

describe("the acme adapter's decline mapping", () => {
  // [error.code, error.decline_code] as the sandbox words each issuer verdict, and more.
  const cases = [
    { code: "card_declined", decline: "generic_decline", to: "card_declined", cls: "soft_decline" },
    { code: "card_declined", decline: "insufficient_funds", to: "insufficient_funds", cls: "hard_decline" },
    { code: "processing_error", decline: undefined, to: "processing_error", cls: "soft_decline" },
    { code: "expired_card", decline: undefined, to: "expired_card", cls: "hard_decline" },
    { code: "incorrect_number", decline: undefined, to: "invalid_card", cls: "hard_decline" },
    { code: "incorrect_cvc", decline: undefined, to: "incorrect_cvc", cls: "hard_decline" },
    { code: "card_declined", decline: "do_not_honor", to: "do_not_honor", cls: "soft_decline" },
    { code: "card_declined", decline: "fraudulent", to: "fraud_suspected", cls: "hard_decline" },
    { code: "card_declined", decline: "stolen_card", to: "stolen_or_lost_card", cls: "hard_decline" },
    { code: "card_declined", decline: "lost_card", to: "stolen_or_lost_card", cls: "hard_decline" },
    { code: "card_declined", decline: "issuer_not_available", to: "issuer_unavailable", cls: "soft_decline" },
    { code: "card_declined", decline: "try_again_later", to: "try_again_later", cls: "soft_decline" },
    {
      code: "card_declined",
      decline: "authentication_required",
      to: "authentication_required",
      cls: "auth_required",
    },
    { code: "card_declined", decline: "brand_new_reason", to: "unrecognized_decline", cls: "hard_decline" },
    { code: undefined, decline: undefined, to: "card_declined", cls: "soft_decline" },
  ] as const;
  for (const c of cases) {
    it(`maps ${c.code ?? "no code"}/${c.decline ?? "-"} to ${c.to} (${c.cls})`, () => {
      const r = acmeDecline(c.code, c.decline, "ch_1");
      expect(r).to.include({ outcome: "declined", code: c.to, class: c.cls, soft: c.cls === "soft_decline" });
      expect(r.rawCode).to.equal(c.decline ?? c.code ?? "card_declined");
      expect(r.pspReference).to.equal("ch_1");
    });
  }
});

describe("the bolt adapter's refusal mapping", () => {
  const cases = [
    { result: "Refused", reason: "2", to: "card_declined", cls: "soft_decline" },
    { result: "Refused", reason: "51", to: "insufficient_funds", cls: "hard_decline" },
    { result: "Refused", reason: "54", to: "expired_card", cls: "hard_decline" },
    { result: "Refused", reason: "14", to: "invalid_card", cls: "hard_decline" },
    { result: "Error", reason: "96", to: "processing_error", cls: "soft_decline" },
    { result: "Refused", reason: "05", to: "do_not_honor", cls: "soft_decline" },
    { result: "Refused", reason: "N7", to: "incorrect_cvc", cls: "hard_decline" },
    { result: "Refused", reason: "59", to: "fraud_suspected", cls: "hard_decline" },
    { result: "Refused", reason: "43", to: "stolen_or_lost_card", cls: "hard_decline" },
    { result: "Refused", reason: "91", to: "issuer_unavailable", cls: "soft_decline" },
    { result: "Refused", reason: "1A", to: "authentication_required", cls: "auth_required" },
    { result: "Refused", reason: "77", to: "unrecognized_decline", cls: "hard_decline" },
    { result: "Refused", reason: undefined, to: "card_declined", cls: "soft_decline" },
    { result: "Error", reason: undefined, to: "processing_error", cls: "soft_decline" },
  ] as const;
  for (const c of cases) {
    it(`maps ${c.result}/${c.reason ?? "-"} to ${c.to} (${c.cls})`, () => {
      const r = boltDecline(c.result, c.reason, "B1");
      expect(r).to.include({ outcome: "declined", code: c.to, class: c.cls, soft: c.cls === "soft_decline" });
      expect(r.rawCode).to.equal(c.reason ?? c.result);
    });
  }
});

describe("PSP capabilities", () => {
  it("are declared by each adapter and listed by the registry", () => {
    const caps = capabilitiesOf(createConnectors({ sandboxUrl: "http://127.0.0.1:1", timeoutMs: 10 }));
    expect([...caps.keys()]).to.have.members(["acme", "bolt"]);
    expect(caps.get("acme")).to.deep.equal(ACME_CAPABILITIES);
    expect(caps.get("bolt")).to.deep.equal(BOLT_CAPABILITIES);
    expect(ACME_CAPABILITIES.currencies).to.include.members(["EUR", "SEK", "CHF"]);
    expect(BOLT_CAPABILITIES.currencies).to.not.include("SEK");
    expect(BOLT_CAPABILITIES.brands).to.not.include("amex");
  });
});
