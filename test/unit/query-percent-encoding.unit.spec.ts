// badlyEncodedQueryParameter (gateway/http-edges.ts): which query parameter does not percent-decode,
// named as sent only when it looks like a parameter's name. fastify's query parser keeps such text as
// the literal characters, so a filter would compare "caf%E9" and find nothing.
import { expect } from "chai";
import fc from "fast-check";
import { badlyEncodedQueryParameter } from "../../gateway/http-edges.ts";

describe("a query parameter that does not percent-decode (unit)", () => {
  it("names the parameter whose value is cut, not hex, or bytes that are not UTF-8", () => {
    expect(badlyEncodedQueryParameter("/v1/payments?reference=caf%E9")).to.equal("reference");
    expect(badlyEncodedQueryParameter("/v1/payments?limit=10&reference=%C3")).to.equal("reference");
    expect(badlyEncodedQueryParameter("/v1/payments?reference=%ZZ")).to.equal("reference");
    expect(badlyEncodedQueryParameter("/v1/payments?reference=50%")).to.equal("reference");
    expect(badlyEncodedQueryParameter("/v1/payments?reference=%ED%A0%80")).to.equal("reference");
    expect(badlyEncodedQueryParameter("/ops/payments?a=1&b=%4&c=%zz")).to.equal("b");
  });

  it("writes a key that does not decode, or does not look like a name, as [key]", () => {
    expect(badlyEncodedQueryParameter("/v1/payments?%ZZ=1")).to.equal("[key]");
    expect(badlyEncodedQueryParameter("/v1/payments?%C3")).to.equal("[key]");
    expect(badlyEncodedQueryParameter("/v1/payments?4242424242424242=%ZZ")).to.equal("[key]");
    expect(badlyEncodedQueryParameter("/v1/payments?n4242424242424242=%ZZ")).to.equal("[key]");
    expect(badlyEncodedQueryParameter("/v1/payments?n424-242-424-242-424-2=%ZZ")).to.equal("[key]");
    expect(badlyEncodedQueryParameter("/v1/payments?expand[0]=%ZZ")).to.equal("expand[0]");
    expect(badlyEncodedQueryParameter(`/v1/payments?${"k".repeat(65)}=%ZZ`)).to.equal("[key]");
  });

  it("takes what decodes: UTF-8 sequences, +, %25, no query, a % in the path only", () => {
    for (const url of [
      "/v1/payments",
      "/v1/payments?",
      "/v1/payments?reference=caf%C3%A9&status=captured",
      "/v1/payments?reference=a+b%2B%25%20",
      "/v1/payments?reference=%F0%9F%92%B3",
      "/v1/payments/pay%5Fx?limit=1",
      "/v1/payments?flag&reference=%41",
    ])
      expect(badlyEncodedQueryParameter(url), url).to.equal(undefined);
  });

  it("agrees with decodeURIComponent over any encoded text, and never throws", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string(), (value, junk) => {
        let ok = true;
        try {
          decodeURIComponent(value);
        } catch {
          ok = false;
        }
        // A value sent as is: refused exactly when it does not decode (& and = would split it: encode them).
        const sent = value.replaceAll("&", "%26").replaceAll("=", "%3D").replaceAll("+", "%2B");
        const named = badlyEncodedQueryParameter(`/x?q=${sent}`);
        expect(named === undefined, sent).to.equal(ok);
        badlyEncodedQueryParameter(`/x?${junk}`);
      }),
    );
  });
});
