// The wire walk that finds a gRPC request's string whose bytes are not UTF-8 (gateway/grpc/utf8-fields.ts),
// over requests encoded by the service's own definition, then altered byte by byte.
import { expect } from "chai";
import type { MessageTypeDefinition } from "@grpc/proto-loader";
import { loadPaymentsPackage } from "../../gateway/grpc/proto.ts";
import {
  firstNonUtf8String,
  type MessageDescriptor,
  type ResolveType,
} from "../../gateway/grpc/utf8-fields.ts";
import { createRequest, replaceBytes } from "../support/grpc-client.ts";

describe("gRPC strings that are not UTF-8, found on the wire", () => {
  const pkg = loadPaymentsPackage();
  const create = pkg["switchyard.v1.CreatePaymentRequest"] as MessageTypeDefinition<unknown, unknown>;
  const type = create.type as unknown as MessageDescriptor;
  const resolve: ResolveType = (name, from) =>
    from.nestedType?.find((n) => n.name === name) ??
    (pkg[`switchyard.v1.${name}`] as { type?: MessageDescriptor } | undefined)?.type;
  const encoded = (req: object) => create.serialize(req);

  it("finds nothing in a request of UTF-8 strings, U+FFFD and emoji included", () => {
    const req = createRequest({ reference: "café \uFFFD \ud83d\ude00", metadata: { clé: "välue" } });
    expect(firstNonUtf8String(encoded(req), type, resolve)).to.equal(undefined);
  });

  it("names the field: top level, in the card, in a map's key and value", () => {
    const at = (req: object, by: number[]) =>
      firstNonUtf8String(replaceBytes(encoded(req), "\uFFFD", by), type, resolve);
    expect(at(createRequest({ reference: "caf\uFFFD" }), [0xe9, 0x20, 0x20])).to.equal("reference");
    expect(at(createRequest({ currency: "\uFFFD" }), [0xc3, 0x28, 0x20])).to.equal("currency");
    expect(
      at(createRequest({ card: { ...createRequest().card!, cvc: "\uFFFD" } }), [0xff, 0x20, 0x20]),
    ).to.equal("card.cvc");
    expect(at(createRequest({ metadata: { "k\uFFFD": "v" } }), [0xed, 0xa0, 0x80])).to.equal("metadata.key");
    expect(at(createRequest({ metadata: { k: "\uFFFD" } }), [0xe9, 0x20, 0x20])).to.equal("metadata.value");
  });

  it("leaves bytes that are not a message to the decoder: truncated, a length past the end, a group", () => {
    const bytes = encoded(createRequest({ reference: "caf\uFFFD" }));
    const bad = replaceBytes(bytes, "\uFFFD", [0xe9, 0x20, 0x20]);
    for (let cut = 0; cut < bad.length; cut++) firstNonUtf8String(bad.subarray(0, cut), type, resolve);
    expect(firstNonUtf8String(Buffer.from([0x3a, 0x7f, 0x61]), type, resolve)).to.equal(undefined);
    expect(firstNonUtf8String(Buffer.from([0x0b, 0x0c]), type, resolve)).to.equal(undefined);
    expect(firstNonUtf8String(Buffer.from([0xff, 0xff, 0xff]), type, resolve)).to.equal(undefined);
  });

  it("skips fields it does not know and numbers of every wire type", () => {
    // field 99 (length-delimited, not UTF-8), field 100 (fixed64), field 101 (fixed32), then reference.
    const unknown = Buffer.from([
      0x9a, 0x06, 0x01, 0xe9, 0xa1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0xad, 0x06, 1, 2, 3, 4,
    ]);
    const ref = encoded({ reference: "ok" });
    expect(firstNonUtf8String(Buffer.concat([unknown, ref]), type, resolve)).to.equal(undefined);
    const badRef = Buffer.from([0x3a, 0x01, 0xe9]); // field 7 (reference), one byte 0xE9
    expect(firstNonUtf8String(Buffer.concat([unknown, badRef]), type, resolve)).to.equal("reference");
  });
});
