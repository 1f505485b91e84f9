// Duplicate keys in a JSON text (actors/payment/core/json-keys.ts): found as JSON.parse compares keys,
// named by their path, never echoing a card number, and nothing found where an object does not
// repeat a key — checked by hand and against texts built with known duplicates.
import { expect } from "chai";
import fc from "fast-check";
import { findDuplicateKey } from "../../actors/payment/core/json-keys.ts";

describe("duplicate keys in a JSON text", () => {
  it("finds a key repeated in the top object, in a nested one and in an object inside an array", () => {
    expect(findDuplicateKey('{"amount":100,"currency":"EUR","amount":200}')).to.equal("amount");
    expect(findDuplicateKey('{"metadata":{"a":"1","b":"2","a":"3"}}')).to.equal("metadata.a");
    expect(findDuplicateKey('{"items":[{"a":1},{"b":1,"b":2}]}')).to.equal("items.1.b");
    expect(findDuplicateKey('{"x":[[],[{"y":{"z":1,"z":1}}]]}')).to.equal("x.1.0.y.z");
  });

  it("compares keys as JSON.parse reads them: an escape is the character it stands for", () => {
    expect(findDuplicateKey('{"amount":1,"\\u0061mount":2}')).to.equal("amount");
    expect(findDuplicateKey('{"a\\"b":1,"a\\u0022b":2}')).to.equal('a"b');
    expect(findDuplicateKey('{"a\\\\":1,"a\\u005c":2}')).to.equal("a\\");
    expect(findDuplicateKey('{"é":1,"\\u00e9":2}')).to.equal("é");
    expect(findDuplicateKey('{"a\\\\":1,"a":2}')).to.equal(undefined);
  });

  it("finds nothing where no object repeats a key: siblings, parent and child, values that look like keys", () => {
    for (const text of [
      "{}",
      '{"a":{},"b":[]}',
      '{"a":{"a":{"a":1}}}',
      '{"l":[{"a":1},{"a":2}]}',
      '{"a":"\\"a\\":1,{\\"a\\":2}","b":"a"}',
      '{"a":"}],{[,","b":"\\\\","c":["a","a"]}',
      ' { "a" : 1 ,\n\t"b" : [ 1 , 2 , { "a" : 3 } ] , "c" : null , "d" : true , "e" : -1.5e3 } ',
      '{"emoji \ud83d\ude00":1,"emoji":2}',
    ])
      expect(findDuplicateKey(text), text).to.equal(undefined);
  });

  it("reports the first duplicate in document order", () => {
    expect(findDuplicateKey('{"o":{"x":1,"x":2},"a":1,"a":2}')).to.equal("o.x");
    expect(findDuplicateKey('{"a":1,"o":{"x":1,"x":2},"a":2}')).to.equal("o.x");
  });

  it("never echoes a card number, and cuts a long key without splitting a surrogate pair", () => {
    expect(findDuplicateKey('{"4242424242424242":1,"4242424242424242":2}')).to.equal("[key]");
    expect(findDuplicateKey('{"m":{"card 4242 4242 4242 4242":{"a":1,"a":1}}}')).to.equal("m.[key].a");
    const long = "k".repeat(200);
    expect(findDuplicateKey(`{"${long}":1,"${long}":2}`)).to.equal(`${"k".repeat(64)}…`);
    const pairAtCut = `${"k".repeat(63)}\ud83d\ude00${"k".repeat(10)}`;
    const cut = findDuplicateKey(`{"${pairAtCut}":1,"${pairAtCut}":2}`)!;
    expect(cut).to.equal(`${"k".repeat(63)}…`);
    expect(cut.isWellFormed()).to.equal(true);
  });

  it("finds a duplicate among many keys (looked up in a set past the first 16) and none in 6,000 distinct ones", () => {
    const many = Array.from({ length: 100 }, (_, i) => `"k${i}":${i}`);
    expect(findDuplicateKey(`{${many.join(",")},"k3":0}`)).to.equal("k3");
    expect(findDuplicateKey(`{${many.join(",")},"k99":0}`)).to.equal("k99");
    const distinct = Array.from({ length: 6_000 }, (_, i) => `"k${i}":1`).join(",");
    expect(findDuplicateKey(`{"o":{${distinct}},"p":{${distinct}}}`)).to.equal(undefined);
  });

  it("answers text that is not JSON without throwing or looping: it only ever scans forward", () => {
    for (const text of ['{"a', '"a":1,"a":2', ',"a":1', '{"a":1,"a"', "}}]]", '{"\\', "", '{"a":"\\"}'])
      expect(() => findDuplicateKey(text), text).not.to.throw();
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "\\", "a") }),
        (text) => {
          findDuplicateKey(text);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it("walks 10,000 levels of nesting without recursion", () => {
    const deep = `${'{"a":'.repeat(10_000)}{"b":1,"b":2}${"}".repeat(10_000)}`;
    expect(findDuplicateKey(deep)).to.equal(`${"a.".repeat(10_000)}b`);
  });

  // Objects as lists of entries, so a text may repeat a key; the generator knows whether it did.
  type Json = null | number | string | boolean | Json[] | { entries: Array<[string, Json]> };
  const keyArb = fc.constantFrom("a", "b", "c", "\u00e9", 'q"', "s\\", "}", "[", ",", ":");
  const { value: jsonArb } = fc.letrec<{ value: Json }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom<Json>(null, true, 0, -1.5, "", "a", '"', "}", "\\"),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.record({ entries: fc.array(fc.tuple(keyArb, tie("value")), { maxLength: 4 }) }),
    ),
  }));
  /** Keys written plainly or with every character escaped, at random. */
  function write(v: Json, escape: () => boolean): string {
    if (v === null || typeof v !== "object") return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map((x) => write(x, escape)).join(",")}]`;
    const key = (k: string) =>
      escape()
        ? `"${[...k].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"`
        : JSON.stringify(k);
    return `{${v.entries.map(([k, x]) => `${key(k)}:${write(x, escape)}`).join(",")}}`;
  }
  function hasDuplicate(v: Json): boolean {
    if (v === null || typeof v !== "object") return false;
    if (Array.isArray(v)) return v.some(hasDuplicate);
    const keys = v.entries.map(([k]) => k);
    return new Set(keys).size !== keys.length || v.entries.some(([, x]) => hasDuplicate(x));
  }

  it("agrees with texts whose duplicates are known, keys escaped or not", () => {
    fc.assert(
      fc.property(
        fc.record({ entries: fc.array(fc.tuple(keyArb, jsonArb), { maxLength: 5 }) }),
        fc.infiniteStream(fc.boolean()),
        (body, coins) => {
          const text = write(body, () => coins.next().value as boolean);
          JSON.parse(text); // the precondition: text JSON.parse takes
          expect(findDuplicateKey(text) !== undefined, text).to.equal(hasDuplicate(body));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
