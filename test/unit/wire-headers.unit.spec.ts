// The platform's own NATS headers (streams/wire-headers.ts) say on the wire what nats-core's would
// for the same calls, and refuse what it refuses.
import { headers, Match } from "@nats-io/transport-node";
import { expect } from "chai";
import { WireHeaders } from "../../streams/wire-headers.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("WireHeaders", () => {
  it("encodes what nats-core's headers encode for the same sets, in the same order", () => {
    const ours = new WireHeaders();
    const theirs = headers();
    for (const h of [ours, theirs]) {
      h.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
      h.set("Nats-Msg-Id", "pay_1:4");
      h.set("Nats-Expected-Stream", "PAY_EVT");
      h.set("Nats-Expected-Last-Subject-Sequence", "5");
      h.set("Nats-Msg-Id", " pay_1:5 "); // set again: replaced (and trimmed), as nats-core does
    }
    // What the client sends (it calls encode(), which MsgHdrs does not declare): byte for byte.
    const wire = (theirs as unknown as { encode(): Uint8Array }).encode();
    expect(text(ours.encode())).to.equal(text(wire));
    expect(text(ours.encode())).to.match(/^NATS\/1\.0\r\n.*\r\n\r\n$/s);
    expect(ours.get("Nats-Msg-Id")).to.equal("pay_1:5");
    expect(ours.get("nats-msg-id")).to.equal("");
    expect(ours.get("nats-msg-id", Match.IgnoreCase)).to.equal("pay_1:5");
    expect(ours.has("traceparent")).to.equal(true);
    expect(ours.keys()).to.have.members([...theirs.keys()]);
    expect([...ours].find(([k]) => k === "Nats-Expected-Stream")).to.deep.equal([
      "Nats-Expected-Stream",
      ["PAY_EVT"],
    ]);
    ours.delete("traceparent");
    expect(ours.has("traceparent")).to.equal(false);
  });

  it("refuses a value with CR or LF, and a name nats-core would refuse", () => {
    const h = new WireHeaders();
    expect(() => h.set("Sy-Evt-Seq", "1\r\nNats-Msg-Id: forged")).to.throw(/cannot contain/);
    expect(() => h.set("Sy-Evt-Seq", "1\nx")).to.throw(/cannot contain/);
    expect(() => h.set("", "v")).to.throw(/invalid header name/); // nats-core lets an empty one by
    for (const name of ["Bad:Name", "Bad Name", "Bäd"]) {
      expect(() => h.set(name, "v"), name).to.throw(/invalid header name/);
      expect(() => headers().set(name, "v"), `nats-core: ${name}`).to.throw();
    }
    expect(text(h.encode())).to.equal("NATS/1.0\r\n\r\n");
  });
});
