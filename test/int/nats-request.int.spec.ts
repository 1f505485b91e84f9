// streams/nats-request.ts replaces the answered path of nats-core's one-shot request (no throwaway
// RequestError per answer). What must still hold, on the real server: answers arrive, the request's
// token and timer are released (nothing left in the connection's request table), and errors and
// timeouts reject as the library makes them.
import { errors, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { expect } from "chai";
import pino from "pino";
import { connectNats } from "../../streams/connection.ts";
import { natsRequestPatched } from "../../streams/nats-request.ts";
import { NATS_URL, uniquePrefix } from "../support/infra.ts";

/** The connection's table of requests waiting for an answer (nats-core's mux subscription). */
const waiting = (nc: NatsConnection): number =>
  (nc as unknown as { protocol: { muxSubscriptions: { size(): number } } }).protocol.muxSubscriptions.size();

describe("an answered NATS request without a throwaway error", () => {
  let nc: NatsConnection;
  const subject = `${uniquePrefix()}.echo`;
  before(async () => {
    nc = await connectNats(NATS_URL, "nats-request-test", pino({ level: "silent" }));
    nc.subscribe(subject, {
      callback: (_err, m) => {
        m.respond(m.data);
      },
    });
    await nc.flush();
  });
  after(async () => nc.close());

  it("is installed over the nats-core version it was written for", () => {
    expect(natsRequestPatched()).to.equal(true);
  });

  it("answers 500 requests at once and leaves none waiting", async () => {
    const answers = await Promise.all(
      Array.from({ length: 500 }, (_, i) => nc.request(subject, String(i), { timeout: 5_000 })),
    );
    expect(answers.map((m) => m.string())).to.deep.equal(Array.from({ length: 500 }, (_, i) => String(i)));
    expect(waiting(nc)).to.equal(0);
  });

  it("still rejects a request nobody answers, and one that times out, and releases both", async () => {
    const nobody = await nc.request(`${subject}.nobody`, "x", { timeout: 2_000 }).catch((e: unknown) => e);
    expect(nobody).to.be.instanceOf(errors.RequestError);
    expect((nobody as Error).cause).to.be.instanceOf(errors.NoRespondersError);
    const silent = `${subject}.silent`;
    const sub = nc.subscribe(silent, { callback: () => undefined });
    try {
      const late = await nc.request(silent, "x", { timeout: 50 }).catch((e: unknown) => e);
      expect(late).to.be.instanceOf(errors.TimeoutError);
    } finally {
      sub.unsubscribe();
    }
    expect(waiting(nc)).to.equal(0);
  });

  it("a JetStream publish is acknowledged, and a fenced one refused as before", async () => {
    const jsm = await jetstreamManager(nc);
    const name = `${uniquePrefix()}_REQ`;
    await jsm.streams.add({ name, subjects: [`${name}.>`] });
    try {
      const js = jetstream(nc);
      const ack = await js.publish(`${name}.a`, "1", { expect: { lastSubjectSequence: 0 } });
      expect(ack.seq).to.equal(1);
      const refused = await js
        .publish(`${name}.a`, "2", { expect: { lastSubjectSequence: 0 } })
        .catch((e: unknown) => e);
      expect(String(refused)).to.match(/wrong last sequence/);
      expect(waiting(nc)).to.equal(0);
    } finally {
      await jsm.streams.delete(name);
    }
  });
});
