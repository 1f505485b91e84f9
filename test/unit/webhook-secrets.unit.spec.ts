// Webhook signing secrets: Standard Webhooks' format, sealed like cards (key id in the seal, so a
// card-key rotation keeps them readable), bound to their endpoint.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { openText, SealError, sealText } from "../../config/card-seal.ts";
import { newWebhookSecret } from "../../actors/webhooks/endpoints.ts";

describe("webhook secrets", () => {
  it("are whsec_ and the base64 of 32 random bytes, never the same twice", () => {
    const a = newWebhookSecret();
    expect(a).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), "base64")).to.have.length(32);
    expect(newWebhookSecret()).not.to.equal(a);
  });

  it("open after the card key rotates, with the retired key they name", () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const secret = newWebhookSecret();
    const sealed = sealText(oldKey, secret, "we_1");
    expect(sealed).not.to.include(secret.slice(6));
    expect(openText([newKey, oldKey], sealed, "we_1")).to.equal(secret);
    expect(() => openText([newKey], sealed, "we_1")).to.throw(SealError, /does not hold/);
  });

  it("do not open for another endpoint (the id is bound in)", () => {
    const key = randomBytes(32);
    const sealed = sealText(key, newWebhookSecret(), "we_1");
    expect(() => openText([key], sealed, "we_2")).to.throw(SealError);
  });
});
