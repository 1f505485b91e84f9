// Stripe idempotency over a real JetStream KV bucket and a real HTTP server: a replay answers the
// first bytes; a claim left by a gateway that died (older than STALE_CLAIM_MS) is taken over rather
// than blocking the key for 24 h; an answer that says "try again" (5xx) releases the key.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import Fastify, { type FastifyInstance } from "fastify";
import { toStripeError } from "../../gateway/stripe/errors.ts";
import { StripeIdempotency, STALE_CLAIM_MS, type Answer } from "../../gateway/stripe/idempotency.ts";
import { StripeStores } from "../../gateway/stripe/stores.ts";
import { stripeBucketNames } from "../../streams/topology.ts";
import { NATS_URL, uniquePrefix } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

describe("Stripe idempotency store (int)", function () {
  this.timeout(30_000);
  const prefix = uniquePrefix();
  let nc: NatsConnection;
  let stores: StripeStores;
  let app: FastifyInstance;
  let url: string;
  /** What the route answers next; a test may hold it until it says. */
  let next: () => Promise<Answer>;
  let runs = 0;

  before(async () => {
    nc = await connect({ servers: NATS_URL });
    stores = await StripeStores.open(jetstream(nc), prefix);
    const idem = new StripeIdempotency(stores, randomBytes(32));
    app = Fastify();
    app.decorateRequest("merchantId", "m_int");
    // As the layer's own context answers what run() refuses (gateway/stripe/plugin.ts).
    app.setErrorHandler(async (err, _req, reply) => {
      const e = toStripeError(err);
      return reply.code(e.status).send(e.toBody());
    });
    app.post("/v1/thing", async (req, reply) => {
      await idem.run(req, reply, req.body ?? {}, async () => {
        runs += 1;
        return next();
      });
    });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  });
  after(async () => {
    await app?.close();
    const jsm = await jetstreamManager(nc);
    const names = stripeBucketNames(prefix);
    for (const b of [names.idempotency, names.intents])
      await jsm.streams.delete(`KV_${b}`).catch(() => false);
    await nc?.close();
  });

  const post = async (key: string, body: unknown = { a: 1 }) => {
    const res = await fetch(`${url}/v1/thing`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text(), replayed: res.headers.get("idempotent-replayed") };
  };

  it("replays the first answer's bytes and runs once", async () => {
    runs = 0;
    next = () => Promise.resolve({ status: 200, body: { n: Math.random() } });
    const first = await post("k-replay");
    const second = await post("k-replay");
    expect(runs).to.equal(1);
    expect(second.text).to.equal(first.text);
    expect(second.replayed).to.equal("true");
  });

  it("releases the key after a 5xx, so a retry runs again", async () => {
    runs = 0;
    next = () => Promise.resolve({ status: 503, body: { error: { type: "api_error", message: "later" } } });
    expect((await post("k-503")).status).to.equal(503);
    next = () => Promise.resolve({ status: 200, body: { ok: true } });
    const retry = await post("k-503");
    expect(retry.status).to.equal(200);
    expect(runs).to.equal(2);
  });

  it("takes over a claim older than the stale limit instead of answering 409 for a day", async () => {
    runs = 0;
    let release!: () => void;
    next = () =>
      new Promise<Answer>((resolve) => (release = () => resolve({ status: 200, body: { who: "first" } })));
    const first = post("k-stale");
    const key = StripeStores.idemKey("m_int", "k-stale");
    const claim = await waitFor(async () => await stores.getIdem(key), {
      timeoutMs: 5_000,
      what: "the claim",
    });
    expect(claim.value.s).to.equal("pending");
    // While it runs: 409.
    expect((await post("k-stale")).status).to.equal(409);
    // Its gateway died, as far as anyone can tell: the claim ages past the limit.
    const aged = { ...claim.value, at: Date.now() - STALE_CLAIM_MS - 1_000 };
    expect(await stores.replaceIdem(key, aged, claim.revision)).to.be.a("number");
    next = () => Promise.resolve({ status: 200, body: { who: "second" } });
    const second = await post("k-stale");
    expect(second.status).to.equal(200);
    expect(JSON.parse(second.text)).to.deep.equal({ who: "second" });
    // The first one ends after all: it answers, but does not overwrite what the second kept.
    release();
    expect((await first).status).to.equal(200);
    const third = await post("k-stale");
    expect(third.replayed).to.equal("true");
    expect(JSON.parse(third.text)).to.deep.equal({ who: "second" });
    expect(runs).to.equal(2);
  });

  it("refuses the key with other parameters, without running", async () => {
    runs = 0;
    next = () => Promise.resolve({ status: 200, body: {} });
    await post("k-params", { a: 1 });
    const other = await post("k-params", { a: 2 });
    expect(other.status).to.equal(400);
    expect((JSON.parse(other.text) as { error: { type: string } }).error.type).to.equal("idempotency_error");
    expect(runs).to.equal(1);
  });
});
