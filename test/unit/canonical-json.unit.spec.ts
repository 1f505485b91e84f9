// canonicalJson feeds the request fingerprint stored in every payment's events: a faster version
// must write exactly the bytes the first one wrote, or a retried request would stop matching.
import { expect } from "chai";
import fc from "fast-check";
import { canonicalJson } from "../../actors/payment/core/ids.ts";

/** The first implementation, kept as the reference the current one must agree with. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

describe("canonicalJson", () => {
  it("writes what the reference writes for any JSON value, and for values with undefined in them", () => {
    const withUndefined = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue(),
        fc.constant(undefined),
        fc.array(tie("value")),
        fc.dictionary(fc.string({ unit: "binary" }), tie("value")),
      ),
    })).value;
    fc.assert(
      fc.property(withUndefined, (v) => {
        expect(canonicalJson(v)).to.equal(reference(v));
      }),
      { numRuns: 2000 },
    );
  });

  it("sorts keys by UTF-16 code units and leaves out undefined values", () => {
    const body = { b: 1, a: [2, { d: undefined, c: "x" }], "\u00e9": null, B: true, "10": 0, "9": 0 };
    expect(canonicalJson(body)).to.equal('{"10":0,"9":0,"B":true,"a":[2,{"c":"x"}],"b":1,"é":null}');
    expect(canonicalJson(body)).to.equal(reference(body));
  });
});
