// What nats-server's own authorization (scripts/nats-auth.ts) lets an internal system do, judged by
// a real nats-server 2.9 on a free port with the generated users: `billing` acts for m_acme only.
// Allowed: commands for m_acme, its reply space, consumers on PAY_OUT filtered to m_acme (ordered,
// or added by name with one filter). Refused by the server: events, another merchant's commands,
// reading PAY_EVT or another merchant's PAY_OUT, a consumer whose filter is not in its create subject
// or differs from it, any KV bucket, another user's inboxes. With nats.js v3 a refused publish made
// with an ack (js.publish) or a request fails with the server's "Permissions Violation", a plain
// publish shows it as an error on nc.status(), and a refused subscription is closed with it.
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { authorizationConf, internalInboxPrefix, parseArgs } from "../../scripts/nats-auth.ts";
import { policyBucketName } from "../../streams/policy-store.ts";
import { ensureTopology, merchantEventSubject, topology } from "../../streams/topology.ts";
import { uniquePrefix } from "../support/infra.ts";
import { startAuthServer, type AuthServer } from "../support/nats-auth-server.ts";
import { waitFor } from "../support/wait.ts";

const VIOLATION = /Permissions Violation/;

/** The error a call failed with, as text ("" when it did not fail). */
async function failure(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return "";
  } catch (err) {
    return String(err);
  }
}

describe("NATS permissions of an internal system", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix();
  const t = topology(prefix, 4);
  let server: AuthServer;
  let admin: NatsConnection;
  let nc: NatsConnection;
  let js: JetStreamClient;
  const statusErrors: string[] = [];

  before(async () => {
    server = await startAuthServer({
      prefix,
      internal: [
        { user: "billing", merchants: ["m_acme"] },
        { user: "ledger", merchants: ["m_beta", "m_gamma"] },
      ],
    });
    // The platform's side: the worker ensures the topology and a bucket; the projector fills PAY_OUT.
    admin = await server.connectAs("worker");
    await ensureTopology(await jetstreamManager(admin), t);
    const kv = await new Kvm(jetstream(admin)).create(policyBucketName(prefix));
    await kv.put("routing.active", "1");
    const projector = await server.connectAs("projector");
    const pjs = jetstream(projector);
    await pjs.publish(merchantEventSubject(t, "m_acme", "pay_1"), '{"id":"evt_a1"}', { msgID: "evt_a1" });
    await pjs.publish(merchantEventSubject(t, "m_beta", "pay_2"), '{"id":"evt_b1"}', { msgID: "evt_b1" });
    await pjs.publish(merchantEventSubject(t, "m_acme", "pay_3"), '{"id":"evt_a2"}', { msgID: "evt_a2" });
    await projector.close();
    nc = await server.connectAs("billing");
    js = jetstream(nc);
    void (async () => {
      for await (const s of nc.status()) if (s.type === "error") statusErrors.push(String(s.error));
    })();
  });

  after(async () => {
    await nc?.close();
    await admin?.close();
    await server?.stop();
  });

  it("sends commands for its merchant, and is refused another merchant's and any event", async () => {
    const ack = await js.publish(`${t.commandBase}.1.m_acme.pay_1`, "{}", { msgID: "c1" });
    expect(ack.stream).to.equal(t.commandStream);
    expect(await failure(() => js.publish(`${t.commandBase}.1.m_beta.pay_1`, "{}"))).to.match(VIOLATION);
    // The form without a merchant token (and any other shape) is refused too.
    expect(await failure(() => js.publish(`${t.commandBase}.1.pay_1`, "{}"))).to.match(VIOLATION);
    expect(await failure(() => js.publish(`${t.eventBase}.pay_1`, "{}"))).to.match(VIOLATION);
    // A plain publish has no answer to fail: the server's refusal arrives on the connection's status.
    nc.publish(`${t.eventBase}.pay_9`, "{}");
    await waitFor(() => statusErrors.some((e) => e.includes(`${t.eventBase}.pay_9`)), {
      timeoutMs: 5_000,
      what: "the refusal of a plain publish to PAY_EVT on nc.status()",
    });
    expect(await failure(() => js.publish(merchantEventSubject(t, "m_acme", "pay_1"), "{}"))).to.match(
      VIOLATION,
    );
    // Nothing it was refused reached a stream.
    const jsm = await jetstreamManager(admin);
    expect((await jsm.streams.info(t.eventStream)).state.messages).to.equal(0);
    expect((await jsm.streams.info(t.commandStream)).state.messages).to.equal(1);
  });

  it("hears its merchant's replies, and not another's nor the gateways'", async () => {
    const mine = nc.subscribe(`${t.replyBase}.m_acme.>`);
    const theirs = nc.subscribe(`${t.replyBase}.m_beta.>`);
    const gateways = nc.subscribe(`${t.replyBase}._gw123.>`);
    const others = nc.subscribe("_INBOX.>");
    const closedWith = async (s: typeof mine) => String(await s.closed);
    expect(await closedWith(theirs)).to.match(/PermissionViolation/);
    expect(await closedWith(gateways)).to.match(/PermissionViolation/);
    expect(await closedWith(others)).to.match(/PermissionViolation/);
    // The worker answers on it (the worker may publish under pay.reply): the reply arrives.
    const got = (async () => {
      for await (const m of mine) return m.string();
      return undefined;
    })();
    await nc.flush();
    admin.publish(`${t.replyBase}.m_acme.r1.1`, "ok");
    expect(await got).to.equal("ok");
  });

  /** The messages of an ordered push consumer delivered to billing's inbox, until `n` or the end. */
  const pushed = async (filter: string, n: number): Promise<string[]> => {
    const c = await js.consumers.getPushConsumer(t.merchantEventStream, {
      filter_subjects: filter,
      deliver_prefix: createInbox(internalInboxPrefix("billing")),
    });
    const got: string[] = [];
    const messages = await c.consume();
    // A feed that stops (flow control unanswered) ends here, short of `n`, and the caller's check fails.
    const deadline = setTimeout(() => messages.stop(), 20_000);
    try {
      for await (const m of messages) {
        got.push(m.string());
        if (got.length >= n || m.info.pending === 0) break;
      }
    } finally {
      clearTimeout(deadline);
      messages.stop();
    }
    return got;
  };

  it("reads its merchant's events from PAY_OUT with an ordered push consumer to its own inbox, and only those", async () => {
    expect(await pushed(`${t.merchantEventBase}.m_acme.>`, 2)).to.deep.equal([
      '{"id":"evt_a1"}',
      '{"id":"evt_a2"}',
    ]);
    // One payment's events: the same right.
    expect(await pushed(merchantEventSubject(t, "m_acme", "pay_3"), 1)).to.deep.equal(['{"id":"evt_a2"}']);
    for (const filter of [
      `${t.merchantEventBase}.m_beta.>`,
      `${t.merchantEventBase}.>`,
      `${t.merchantEventBase}.*.pay_2`,
    ])
      expect(await failure(() => pushed(filter, 1)), filter).to.match(VIOLATION);
    // A pull consumer is no way in: the ordered one's first step (STREAM.INFO) is refused.
    expect(
      await failure(() =>
        js.consumers.get(t.merchantEventStream, { filter_subjects: `${t.merchantEventBase}.m_acme.>` }),
      ),
    ).to.match(VIOLATION);
    // No consumer on PAY_EVT, not even the first step (its stream info).
    expect(
      await failure(() => js.consumers.get(t.eventStream, { filter_subjects: `${t.eventBase}.>` })),
    ).to.match(VIOLATION);
  });

  it("keeps up with a feed past the server's flow control (it may answer it), with no violation", async () => {
    const projector = await server.connectAs("projector");
    const pjs = jetstream(projector);
    const body = "x".repeat(16 * 1024);
    const n = 400; // 6.4 MB: the server asks for flow control well before
    try {
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          pjs.publish(merchantEventSubject(t, "m_acme", "pay_bulk"), JSON.stringify({ i, body })),
        ),
      );
    } finally {
      await projector.close();
    }
    const before = server.violations().length;
    const got = await pushed(merchantEventSubject(t, "m_acme", "pay_bulk"), n);
    expect(got.map((g) => (JSON.parse(g) as { i: number }).i)).to.have.length(n);
    expect(server.violations().slice(before)).to.deep.equal([]);
  });

  it("cannot list other merchants' payments, nor read, look at or take over another system's consumer", async () => {
    // The stream's info takes a subjects_filter that would list every merchant's payment ids.
    expect(
      await failure(() =>
        nc.request(`$JS.API.STREAM.INFO.${t.merchantEventStream}`, JSON.stringify({ subjects_filter: ">" })),
      ),
    ).to.match(VIOLATION);
    // ledger (m_beta) reads with a durable push consumer of a guessable name, to its own inbox.
    const ledger = await server.connectAs("ledger");
    try {
      const ledgerInbox = `${internalInboxPrefix("ledger")}.feed`;
      const sub = ledger.subscribe(ledgerInbox);
      await ledger.flush();
      const ljsm = await jetstreamManager(ledger, { checkAPI: false });
      await ljsm.consumers.add(t.merchantEventStream, {
        durable_name: "ledger_feed",
        filter_subject: `${t.merchantEventBase}.m_beta.>`,
        deliver_subject: ledgerInbox,
      });
      // billing knows the name: it may not pull from it, ask its info, or listen where it delivers,
      expect(
        await failure(() =>
          nc.request(`$JS.API.CONSUMER.MSG.NEXT.${t.merchantEventStream}.ledger_feed`, '{"batch":1}'),
        ),
      ).to.match(VIOLATION);
      expect(
        await failure(() => nc.request(`$JS.API.CONSUMER.INFO.${t.merchantEventStream}.ledger_feed`, "")),
      ).to.match(VIOLATION);
      expect(String(await nc.subscribe(`${internalInboxPrefix("ledger")}.>`).closed)).to.match(
        /PermissionViolation/,
      );
      // nor point it at its own inbox: its create subject must carry its own filter, and the server
      // will not change an existing consumer's filter by a create ("consumer name already in use").
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      expect(
        await failure(() =>
          jsm.consumers.add(t.merchantEventStream, {
            durable_name: "ledger_feed",
            filter_subject: `${t.merchantEventBase}.m_acme.>`,
            deliver_subject: `${internalInboxPrefix("billing")}.stolen`,
          }),
        ),
      ).to.match(/consumer name already in use/);
      // ledger's consumer still delivers its merchant's event to ledger.
      for await (const m of sub) {
        expect(m.string()).to.equal('{"id":"evt_b1"}');
        break;
      }
      const ci = await (await jetstreamManager(admin)).consumers.info(t.merchantEventStream, "ledger_feed");
      expect(ci.config.deliver_subject).to.equal(ledgerInbox);
      expect(ci.config.filter_subject).to.equal(`${t.merchantEventBase}.m_beta.>`);
      await (await jetstreamManager(admin)).consumers.delete(t.merchantEventStream, "ledger_feed");
    } finally {
      await ledger.close();
    }
  });

  it("adds a named or durable push consumer with its filter, and is refused one without or with a filter its subject does not carry", async () => {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const inbox = `${internalInboxPrefix("billing")}.named`;
    const sub = nc.subscribe(inbox, { max: 1 });
    await nc.flush();
    const ci = await jsm.consumers.add(t.merchantEventStream, {
      name: "billing_reader",
      filter_subject: `${t.merchantEventBase}.m_acme.>`,
      deliver_subject: inbox,
      inactive_threshold: 60_000_000_000,
    });
    expect(ci.config.filter_subject).to.equal(`${t.merchantEventBase}.m_acme.>`);
    for await (const m of sub) expect(m.string()).to.equal('{"id":"evt_a1"}');
    // Without a name the filter is only in the body: refused.
    expect(
      await failure(() =>
        jsm.consumers.add(t.merchantEventStream, { filter_subject: `${t.merchantEventBase}.m_acme.>` }),
      ),
    ).to.match(VIOLATION);
    // A durable one too (v3 puts its name and filter in the subject): it may resume where it was.
    const durable = await jsm.consumers.add(t.merchantEventStream, {
      durable_name: "billing_durable",
      filter_subject: `${t.merchantEventBase}.m_acme.>`,
      deliver_subject: `${internalInboxPrefix("billing")}.durable`,
    });
    expect(durable.config.filter_subject).to.equal(`${t.merchantEventBase}.m_acme.>`);
    await (await jetstreamManager(admin)).consumers.delete(t.merchantEventStream, "billing_durable");
    // Named, but over the whole stream (no filter in the subject): refused.
    expect(await failure(() => jsm.consumers.add(t.merchantEventStream, { name: "everything" }))).to.match(
      VIOLATION,
    );
    // The subject names m_acme, the body asks for every merchant: the server refuses the mismatch.
    const mismatch = await nc.request(
      `$JS.API.CONSUMER.CREATE.${t.merchantEventStream}.sneaky.${t.merchantEventBase}.m_acme.>`,
      JSON.stringify({
        stream_name: t.merchantEventStream,
        config: { name: "sneaky", filter_subject: `${t.merchantEventBase}.>`, ack_policy: "none" },
      }),
    );
    const answer = mismatch.json<{ error?: { err_code: number; description: string } }>();
    expect(answer.error?.description, JSON.stringify(answer)).to.match(/did not match filtered subject/);
    // Nor may it delete a consumer (another system's reader).
    expect(await failure(() => jsm.consumers.delete(t.merchantEventStream, "billing_reader"))).to.match(
      VIOLATION,
    );
  });

  it("cannot read, write or look at any KV bucket", async () => {
    const bucket = policyBucketName(prefix);
    expect(await failure(async () => (await new Kvm(js).open(bucket)).get("routing.active"))).to.match(
      VIOLATION,
    );
    expect(await failure(() => nc.request(`$JS.API.STREAM.INFO.KV_${bucket}`, ""))).to.match(VIOLATION);
    expect(
      await failure(() =>
        nc.request(
          `$JS.API.DIRECT.GET.KV_${bucket}`,
          JSON.stringify({ last_by_subj: `$KV.${bucket}.routing.active` }),
        ),
      ),
    ).to.match(VIOLATION);
    expect(await failure(() => js.publish(`$KV.${bucket}.routing.active`, "2"))).to.match(VIOLATION);
    const watch = nc.subscribe(`$KV.${bucket}.>`);
    expect(String(await watch.closed)).to.match(/PermissionViolation/);
  });

  it("uses its own inbox prefix, which another internal system cannot read", async () => {
    const ledger = await server.connectAs("ledger");
    try {
      const spy = ledger.subscribe(`${internalInboxPrefix("billing")}.>`);
      expect(String(await spy.closed)).to.match(/PermissionViolation/);
      // Without its prefix, a client's JetStream calls get no answer it may read: refused at subscribe.
      const plain = await server.connectAs("ledger", { inboxPrefix: "_INBOX" });
      try {
        expect(
          await failure(() => jetstreamManager(plain).then((m) => m.streams.info(t.merchantEventStream))),
        ).to.not.equal("");
      } finally {
        await plain.close();
      }
    } finally {
      await ledger.close();
    }
  });

  it("generates one user per internal system from the command line, and refuses ids that are not tokens", () => {
    const conf = authorizationConf(parseArgs(["--prefix", "acme", "--internal", "billing=m_a,m_b"]));
    expect(conf).to.include('"acme.pay.cmd.*.m_a.*"').and.include('"acme.pay.reply.m_b.>"');
    expect(conf).to.include('"$JS.API.CONSUMER.CREATE.acme_PAY_OUT.*.acme.pay.out.m_a.>"');
    expect(conf).to.include("$SWITCHYARD_NATS_PASSWORD_BILLING").and.not.include("pw-");
    for (const bad of ["m.a", "m_*", ">", "", "m a", "m\u0000", "x".repeat(65)])
      expect(
        () => authorizationConf({ prefix: "", internal: [{ user: "billing", merchants: [bad] }] }),
        bad,
      ).to.throw(/not a NATS user name or merchant id/);
    expect(() =>
      authorizationConf({ prefix: "", internal: [{ user: "worker", merchants: ["m_a"] }] }),
    ).to.throw(/twice/);
    expect(() => authorizationConf({ prefix: "", internal: [{ user: "billing", merchants: [] }] })).to.throw(
      /no merchant/,
    );
    expect(() => parseArgs(["--prefix", "a.b"])).to.throw(/prefix/);
    expect(() => parseArgs(["--what"])).to.throw(/usage/);
  });

  it("keeps the example configuration in the repository what the generator writes", () => {
    const example = readFileSync(
      new URL("../../config/nats-server.permissions.conf", import.meta.url),
      "utf8",
    );
    expect(example).to.equal(authorizationConf(parseArgs(["--internal", "billing=m_acme,m_beta"])));
  });
});
