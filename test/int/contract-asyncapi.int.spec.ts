// The AsyncAPI document, committed (schemas/asyncapi.json) and served (GET /asyncapi.json), as a
// consumer's tooling reads it: @asyncapi/parser (v3) finds no error, every registered message is in
// it, every channel's messages resolve, every operation points at its channel's messages, and the
// subjects are the ones the lead fixed for issue 20.
import { Parser } from "@asyncapi/parser";
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CHANNELS } from "../../gateway/contract/channels.ts";
import { REGISTRY } from "../../gateway/contract/registry.ts";
import { startGateway, type Harness } from "./gateway-harness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

type Ref = { $ref: string };
type Doc = {
  asyncapi: string;
  channels: Record<
    string,
    { address: string; messages: Record<string, Ref>; parameters: Record<string, unknown> }
  >;
  operations: Record<string, { action: string; channel: Ref; messages: Ref[] }>;
  components: {
    messages: Record<string, { payload: Ref; headers?: { required: string[] } }>;
    schemas: Record<string, unknown>;
  };
};

/** Follows a local JSON pointer (#/a/b) in the document. */
function resolve(doc: unknown, ref: string): unknown {
  return ref
    .replace(/^#\//, "")
    .split("/")
    .reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], doc);
}

async function errorsOf(text: string): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(text);
  return (
    diagnostics
      // 0 is DiagnosticSeverity.Error (@stoplight/types; the parser's re-export is another copy of the enum).
      .filter((d) => Number(d.severity) === 0)
      .map((d) => `${d.code}: ${d.message} at ${d.path.join(".")}`)
  );
}

describe("the AsyncAPI document of the NATS contract", function () {
  this.timeout(60_000);
  const text = readFileSync(join(ROOT, "schemas/asyncapi.json"), "utf8");
  const doc = JSON.parse(text) as Doc;
  let h: Harness;
  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h?.close();
  });

  it("parses with @asyncapi/parser without an error, committed and served", async () => {
    expect(doc.asyncapi).to.equal("3.0.0");
    expect(await errorsOf(text)).to.deep.equal([]);
    const served = await (await h.call("GET", "/asyncapi.json", { key: null })).text();
    expect(await errorsOf(served)).to.deep.equal([]);
  });

  it("finds an error where there is one (the parser is not a rubber stamp)", async () => {
    const broken = structuredClone(doc);
    broken.operations.workerReceiveCommands!.channel = { $ref: "#/channels/nowhere" };
    expect(await errorsOf(JSON.stringify(broken))).to.not.deep.equal([]);
  });

  it("holds every version of every registered message, its payload resolving to a schema", () => {
    for (const m of REGISTRY)
      for (const v of m.versions) {
        const message = doc.components.messages[`${m.name}-v${v.version}`];
        expect(message, `${m.name} v${v.version}`).to.not.equal(undefined);
        expect(resolve(doc, message!.payload.$ref), message!.payload.$ref).to.be.an("object");
      }
  });

  it("resolves every channel's messages and every operation's, which are its channel's", () => {
    for (const [id, channel] of Object.entries(doc.channels))
      for (const ref of Object.values(channel.messages))
        expect(resolve(doc, ref.$ref), `${id}: ${ref.$ref}`).to.be.an("object");
    for (const [id, op] of Object.entries(doc.operations)) {
      const channel = resolve(doc, op.channel.$ref) as Doc["channels"][string] | undefined;
      expect(channel, `${id} → ${op.channel.$ref}`).to.be.an("object");
      expect(op.messages, id).to.not.be.empty;
      for (const ref of op.messages) {
        expect(ref.$ref.startsWith(`${op.channel.$ref}/messages/`), `${id}: ${ref.$ref}`).to.equal(true);
        expect(resolve(doc, ref.$ref), ref.$ref).to.be.an("object");
      }
    }
  });

  it("states the subjects, parameters and headers fixed for issue 20", () => {
    expect(doc.channels.commands?.address).to.equal("pay.cmd.{partition}.{merchantId}.{paymentId}");
    expect(Object.keys(doc.channels.commands?.parameters ?? {})).to.deep.equal([
      "partition",
      "merchantId",
      "paymentId",
    ]);
    expect(doc.channels.events?.address).to.equal("pay.evt.{paymentId}");
    expect(doc.channels["merchant-events"]?.address).to.equal("pay.out.{merchantId}.{paymentId}");
    expect(doc.channels.replies?.address).to.equal("pay.reply.{merchantId}.{inbox}.{token}");
    expect(doc.components.messages["command-envelope-v1"]?.headers?.required).to.deep.equal(["Nats-Msg-Id"]);
    for (const c of CHANNELS) {
      expect(doc.channels[c.id], c.id).to.not.equal(undefined);
      const ops = Object.entries(doc.operations).filter(([, o]) => o.channel.$ref === `#/channels/${c.id}`);
      expect(ops.filter(([, o]) => o.action === "send").length, `${c.id} senders`).to.equal(
        c.publishers.length,
      );
      expect(ops.filter(([, o]) => o.action === "receive").length, `${c.id} receivers`).to.equal(
        c.subscribers.length,
      );
    }
    expect(doc.operations).to.include.keys(
      "internalSystemSendCommands",
      "workerReceiveCommands",
      "projectorSendMerchantEvents",
    );
  });
});
