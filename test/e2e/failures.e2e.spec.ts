// The failure taxonomy end to end: a command that can never succeed is dead-lettered within seconds,
// listed and redriven over /ops, and its partition keeps flowing; a payment left with an unknown PSP
// outcome after its command ran out of retries is settled by the janitor (status query, charged
// once); a command on a corrupt history is dead-lettered on its first delivery; two operators
// redriving the same record put the command back once.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { expect } from "chai";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { commandSubject, partitionOf, topology, type Topology } from "../../streams/topology.ts";
import { NATS_URL } from "../support/infra.ts";
import { paymentBody, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

type DeadLetterList = {
  dead_letters: Array<{
    id: number;
    subject: string;
    reason: string;
    delivery_count: number;
    command: unknown;
  }>;
  total: number;
};

describe("failures: dead letters and the janitor (e2e)", function () {
  this.timeout(60_000);
  let platform: TestPlatform;
  let nc: NatsConnection;
  let topo: Topology;

  before(async () => {
    platform = await startTestPlatform({
      env: testEnv({ SWITCHYARD_COMMAND_MAX_DELIVER: "2", SWITCHYARD_JANITOR_AFTER_MS: "1000" }),
    });
    topo = topology(platform.config.prefix, platform.config.partitions);
    nc = await connect({ servers: NATS_URL });
  });
  after(async () => {
    await nc.close();
    await platform.cleanup();
  });

  const deadLetters = async () => (await platform.ops.get<DeadLetterList>("/ops/dead-letters")).body;
  const alpha = () => platform.api(platform.merchants[0]!);

  it("dead-letters a garbage command at once, lists it, keeps its partition flowing, and redrives it", async () => {
    const key = `after-garbage-${Date.now()}`;
    const nextId = paymentIdFor(platform.merchants[0]!.merchantId, key);
    // Garbage on the very partition the next payment will use.
    const garbageSubject = `${topo.commandBase}.${partitionOf(topo, nextId)}.pay_garbage`;
    await jetstream(nc).publish(garbageSubject, Buffer.from("{not json"));

    const listed = await waitFor(
      async () => (await deadLetters()).dead_letters.find((d) => d.subject === garbageSubject),
      { timeoutMs: 10_000, what: "the garbage command in the dead-letter list" },
    );
    expect(listed.reason).to.equal("undecodable");
    expect(listed.delivery_count).to.equal(1);
    expect(listed.command).to.equal(null);

    const res = await alpha().post("/v1/payments", paymentBody(), key);
    expect(res.status).to.equal(201);
    expect(res.body.id).to.equal(nextId);

    const redrive = await platform.ops.post<{ subject: string }>(`/ops/dead-letters/${listed.id}/redrive`, {
      reason: "checking the redrive",
    });
    expect(redrive.status).to.equal(200);
    expect(redrive.body.subject).to.equal(garbageSubject);
    // Still garbage: it comes back as a new record, and the old one is gone.
    await waitFor(
      async () => {
        const now = (await deadLetters()).dead_letters.filter((d) => d.subject === garbageSubject);
        return now.length === 1 && now[0]!.id !== listed.id;
      },
      { timeoutMs: 10_000, what: "the redriven garbage dead-lettered again under a new id" },
    );
    const metrics = await (await fetch(`${platform.url}/metrics`)).text();
    expect(metrics).to.match(/switchyard_dead_letters_total\{reason="undecodable"\} [2-9]/);
  });

  it("answers 404 for an unknown dead letter and 400 for a bad id, in the error envelope", async () => {
    const missing = await platform.ops.post("/ops/dead-letters/999999/redrive");
    expect(missing.status).to.equal(404);
    expect(missing.body.error?.code).to.equal("dead_letter_not_found");
    const bad = await platform.ops.post("/ops/dead-letters/abc/redrive");
    expect(bad.status).to.equal(400);
    const badLimit = await platform.ops.get("/ops/dead-letters?limit=0");
    expect(badLimit.status).to.equal(400);
  });

  it("settles a payment left with an unknown outcome after its command ran out of retries", async () => {
    const sandbox = platform.sandbox!;
    // acme charges, then its answers are lost (HTTP 500), status queries included: the outcome
    // is unknown, and the command's last delivery dead-letters it.
    sandbox.setBehaviour("acme", { fault: "http_500" });
    const res = await alpha().post("/v1/payments", paymentBody(), `lost-${Date.now()}`);
    expect(res.status).to.equal(202);
    const id = res.body.id;
    const dead = await waitFor(
      async () =>
        (await deadLetters()).dead_letters.find(
          (d) => d.reason === "retries_exhausted" && JSON.stringify(d.command).includes(id),
        ),
      { timeoutMs: 20_000, what: "the create command dead-lettered after its retries" },
    );
    expect((await alpha().get(`/v1/payments/${id}`)).body.attempts.map((a) => a.status)).to.deep.equal([
      "unknown",
    ]);
    // acme is back: nothing but the janitor is left to resolve the payment.
    sandbox.resetBehaviour("acme");
    const settled = await waitFor(
      async () => {
        const p = (await alpha().get(`/v1/payments/${id}`)).body;
        return p.status === "authorized" ? p : undefined;
      },
      { timeoutMs: 30_000, what: "the janitor to settle the payment by a status query" },
    );
    expect(settled.attempts.map((a) => [a.psp, a.status])).to.deep.equal([["acme", "authorized"]]);
    expect(sandbox.charges({ reference: id })).to.have.length(1);
    const metrics = await (await fetch(`${platform.url}/metrics`)).text();
    expect(metrics).to.match(/switchyard_janitor_redrives_total [1-9]/);

    // Redriving the dead-lettered create now answers from the payment: still one charge.
    expect((await platform.ops.post(`/ops/dead-letters/${dead.id}/redrive`)).status).to.equal(200);
    await waitFor(async () => !(await deadLetters()).dead_letters.some((d) => d.id === dead.id), {
      timeoutMs: 5_000,
      what: "the redriven record to leave the list",
    });
    expect(sandbox.charges({ reference: id })).to.have.length(1);
  });

  it("dead-letters a command for a payment whose history is corrupt, at once, instead of retrying for ever", async () => {
    const created = await alpha().post("/v1/payments", paymentBody(), `corrupt-${Date.now()}`);
    expect(created.status).to.equal(201);
    const id = created.body.id;
    // Someone writes a frame no reader can take onto the payment's subject.
    await jetstream(nc).publish(`${topo.eventBase}.${id}`, Buffer.from('{"v":1,"paymentId":"x"}'));
    // The actor cannot read the history: the merchant's capture is dead-lettered on its first
    // delivery and answered 500 command_dead_lettered at once, not retried for ever.
    const capture = await alpha().post(`/v1/payments/${id}/capture`, {}, `cap-${Date.now()}`);
    expect([capture.status, capture.body.error?.code]).to.deep.equal([500, "command_dead_lettered"]);
    // An internal system publishing the command straight to NATS reaches the actor, which cannot
    // read the history: a dead letter on the first delivery, not a retry for ever.
    const command = {
      v: 1,
      command: {
        type: "CapturePayment",
        paymentId: id,
        merchantId: platform.merchants[0]!.merchantId,
        operationId: "op_internal_capture",
        requestFingerprint: "internal",
        at: new Date().toISOString(),
      },
    };
    await jetstream(nc).publish(
      commandSubject(topo, platform.merchants[0]!.merchantId, id),
      Buffer.from(JSON.stringify(command)),
    );
    const dead = await waitFor(
      async () => (await deadLetters()).dead_letters.find((d) => JSON.stringify(d.command).includes(id)),
      { timeoutMs: 10_000, what: "the capture on a corrupt history dead-lettered" },
    );
    expect(dead.reason).to.equal("corrupt_history");
    expect(dead.delivery_count).to.equal(1);
    const corrupt = (await deadLetters()).dead_letters.filter((d) => JSON.stringify(d.command).includes(id));
    expect(corrupt.map((d) => [d.reason, d.delivery_count])).to.deep.equal([
      ["corrupt_history", 1],
      ["corrupt_history", 1],
    ]);
  });

  it("puts a dead letter back once when two operators redrive it at the same time", async () => {
    const subject = `${topo.commandBase}.0.pay_race`;
    await jetstream(nc).publish(subject, Buffer.from("not a command"));
    const dead = await waitFor(
      async () => (await deadLetters()).dead_letters.find((d) => d.subject === subject),
      { timeoutMs: 10_000, what: "the garbage command dead-lettered" },
    );
    const [a, b] = await Promise.all([
      platform.ops.post(`/ops/dead-letters/${dead.id}/redrive`),
      platform.ops.post(`/ops/dead-letters/${dead.id}/redrive`),
    ]);
    expect([a.status, b.status].sort()).to.satisfy(
      (s: number[]) => (s[0] === 200 && s[1] === 200) || (s[0] === 200 && s[1] === 404),
    );
    // One new record for the one re-published command, not two.
    await waitFor(
      async () =>
        (await deadLetters()).dead_letters.filter((d) => d.subject === subject && d.id !== dead.id).length ===
        1,
      { timeoutMs: 10_000, what: "the redriven command dead-lettered again, once" },
    );
    expect((await deadLetters()).dead_letters.filter((d) => d.subject === subject)).to.have.length(1);
  });
});
