// The worker's life cycle end to end, with workers as real child processes (as the Procfile runs
// them) and the gateway and PSP sandbox in the test process: a graceful shutdown on SIGTERM while
// PSP calls are under way, two workers sharing the partitions at once, and what a worker writes to
// its log. Everything real: HTTP, NATS JetStream, Redis.
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";
import { topology } from "../../streams/topology.ts";
import { NATS_URL } from "../support/infra.ts";
import {
  CARDS,
  cleanupRun,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type ApiResponse,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";

const STATE_OF_CARD: Record<string, string> = {
  [CARDS.success]: "authorized", // manual capture
  [CARDS.hardDecline]: "declined",
  [CARDS.threeDS]: "requires_action",
};

describe("worker processes: graceful shutdown, two at once, logs (e2e)", function () {
  this.timeout(40_000);
  let sandbox: Sandbox;
  let gateway: TestPlatform;
  let env: Record<string, string>;
  let api: Api;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const workers: WorkerProcess[] = [];

  const worker = (name: string): WorkerProcess => {
    const w = startWorkerProcess(env, name);
    workers.push(w);
    return w;
  };
  const latency = (ms: number) => {
    for (const psp of ["acme", "bolt"]) sandbox.setBehaviour(psp, { latencyMs: ms });
  };
  const statusOf = async (id: string): Promise<ApiResponse> => api.get(`/v1/payments/${id}`);
  const settledAs = (id: string, want: string, timeoutMs = 15_000) =>
    waitFor(
      async () => {
        const res = await statusOf(id);
        return res.status === 200 && res.body.status === want ? res.body : undefined;
      },
      { timeoutMs, what: `payment ${id} to become ${want}` },
    );
  /** SIGTERM, and the exit it leads to. */
  const terminate = async (w: WorkerProcess) => {
    w.child.kill("SIGTERM");
    return w.exited;
  };

  before(async () => {
    sandbox = await startSandbox({ port: 0, latencyMs: 0 });
    env = testEnv({
      SANDBOX_URL: sandbox.url,
      // A command lost with a dead subscription comes back quickly.
      SWITCHYARD_COMMAND_ACK_WAIT_MS: "2000",
      SWITCHYARD_REPLY_WAIT_MS: "300",
      SWITCHYARD_PSP_TIMEOUT_MS: "3000",
      SANDBOX_SLOW_CARD_DELAY_MS: "6000",
    });
    gateway = await startTestPlatform({ env, roles: ["gateway"] });
    api = gateway.api(gateway.merchants[0]!);
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });

  after(async () => {
    for (const w of workers) w.kill();
    await gateway?.stop();
    await sandbox?.close();
    await nc?.close();
    if (env) await cleanupRun(env);
  });

  afterEach(async () => {
    // No test leaves a worker behind for the next one.
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.exited));
  });

  /** Payment ids whose commands are stored in PAY_CMD (not yet acknowledged by any worker). */
  async function queuedCommands(): Promise<string[]> {
    const topo = topology(env.SWITCHYARD_PREFIX!, Number(env.SWITCHYARD_PARTITIONS));
    const info = await jsm.streams.info(topo.commandStream, { subjects_filter: ">" });
    const subjects = Object.keys(info.state.subjects ?? {});
    expect(info.state.messages, "one stored command per queued payment").to.equal(subjects.length);
    return subjects.map((s) => s.split(".").pop()!).sort();
  }

  it("on SIGTERM finishes the PSP calls under way, leaves unstarted commands queued, exits 0", async () => {
    latency(500); // so that authorizations are at the PSP when the signal lands
    const first = worker("first worker");
    await first.ready;

    const cards = [CARDS.success, CARDS.success, CARDS.hardDecline, CARDS.threeDS];
    const early = Array.from({ length: 8 }, (_, i) => ({ card: cards[i % cards.length]!, key: `term-${i}` }));
    const earlyAnswers = early.map((r) => api.post("/v1/payments", paymentBody({ number: r.card }), r.key));
    await waitFor(() => sandbox.charges().length >= 3, { timeoutMs: 10_000, what: "first PSP calls" });

    first.child.kill("SIGTERM");
    const atSignal = sandbox.charges().map((c) => c.reference);
    // The PSPs have these requests but have not answered: the calls are really under way.
    const underWay: string[] = [];
    for (const id of atSignal) if ((await statusOf(id)).body.status === "authorizing") underWay.push(id);
    expect(underWay, "PSP calls under way when SIGTERM landed").not.to.be.empty;

    // Once the worker says it takes no more commands, new ones must stay in PAY_CMD.
    await first.waitForLog((l) => l.msg?.startsWith("stopping") === true, "the stop notice");
    const late = Array.from({ length: 3 }, (_, i) => ({ card: CARDS.success, key: `term-late-${i}` }));
    const lateAnswers = await Promise.all(
      late.map((r) => api.post("/v1/payments", paymentBody({ number: r.card }), r.key)),
    );
    for (const res of lateAnswers) expect(res.body.status, "queued, not handled").to.equal("created");

    expect(await first.exited).to.deep.equal({ code: 0, signal: null });
    expect(first.logs().some((l) => l.msg === "worker stopped")).to.equal(true);

    // No worker runs now. What the first one started, it finished: every call that was at the PSP
    // is recorded with its outcome, in the event store.
    const earlyIds = (await Promise.all(earlyAnswers)).map((res) => res.body.id);
    const cardOf = new Map(early.map((r, i) => [earlyIds[i]!, r.card]));
    for (const id of atSignal) {
      const res = await statusOf(id);
      expect(res.body.status, `payment ${id} after the first worker's exit`).to.equal(
        STATE_OF_CARD[cardOf.get(id)!],
      );
    }
    // Every early payment is either finished or was never started (no events, command queued).
    const neverStarted: string[] = [];
    for (const id of earlyIds) {
      const res = await statusOf(id);
      if (res.status === 404) neverStarted.push(id);
      else expect(res.body.status, `payment ${id}`).to.equal(STATE_OF_CARD[cardOf.get(id)!]);
    }
    const lateIds = lateAnswers.map((res) => res.body.id);
    for (const id of lateIds) expect((await statusOf(id)).status, `late payment ${id}`).to.equal(404);
    expect(await queuedCommands()).to.deep.equal([...lateIds, ...neverStarted].sort());
    for (const id of [...lateIds, ...neverStarted]) expect(sandbox.charges({ reference: id })).to.be.empty;

    // A second worker takes the queued commands over.
    const second = worker("second worker");
    await second.ready;
    for (const id of lateIds) await settledAs(id, "authorized");
    for (const id of neverStarted) await settledAs(id, STATE_OF_CARD[cardOf.get(id)!]!);
    expect(await queuedCommands()).to.be.empty;
    for (const id of [...earlyIds, ...lateIds])
      expect(sandbox.charges({ reference: id }), `charges of ${id}`).to.have.length(1);
    expect(sandbox.charges()).to.have.length(earlyIds.length + lateIds.length);
    expect(await terminate(second)).to.deep.equal({ code: 0, signal: null });
  });

  it("two workers at once share a burst, and every payment ends right, charged once", async () => {
    latency(50);
    const ws = [worker("worker A"), worker("worker B")];
    await Promise.all(ws.map((w) => w.ready));

    const kinds = [
      { card: CARDS.success, capture: "automatic", want: "captured" },
      { card: CARDS.success, capture: "manual", want: "authorized" },
      { card: CARDS.hardDecline, capture: "automatic", want: "declined" },
      { card: CARDS.threeDS, capture: "automatic", want: "requires_action" },
    ];
    const requests = Array.from({ length: 20 }, (_, i) => ({
      ...kinds[i % kinds.length]!,
      key: `pair-${i}`,
    }));
    // Each request three times at once: commands for one payment reach both workers together, so
    // two live copies of a payment race, and the event-store fence must keep that harmless.
    const answers = await Promise.all(
      requests.flatMap((r) =>
        [0, 1, 2].map(() =>
          api.post("/v1/payments", paymentBody({ number: r.card, capture: r.capture }), r.key),
        ),
      ),
    );
    const ids: string[] = [];
    for (const [i, r] of requests.entries()) {
      const three = answers.slice(i * 3, i * 3 + 3);
      for (const a of three) expect(a.status, `answer to ${r.key}`).to.be.oneOf([201, 202]);
      expect(new Set(three.map((a) => a.body.id)).size, `one payment for ${r.key}`).to.equal(1);
      ids.push(three[0]!.body.id);
    }
    expect(new Set(ids).size).to.equal(requests.length);
    for (const [i, id] of ids.entries()) {
      await settledAs(id, requests[i]!.want);
      expect(sandbox.charges({ reference: id }), `charges of ${id}`).to.have.length(1);
    }
    // Both workers did part of the work.
    // (Log lines are buffered up to LOG_FLUSH_MS: waited for, not read at once.)
    for (const w of ws)
      await w.waitForLog((l) => typeof l.paymentId === "string", "a payment this worker handled");
    const exits = await Promise.all(ws.map(terminate));
    expect(exits).to.deep.equal([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
  });

  it("serves a worker's own metrics when no gateway runs with it: PSP circuits, routing, attempts", async () => {
    latency(0);
    const w = worker("metrics worker");
    await w.ready;
    const listening = await w.waitForLog((l) => l.msg === "worker metrics listening", "the metrics server");
    const paid = await api.post("/v1/payments", paymentBody({ number: CARDS.success }));
    expect(paid.body.status).to.equal("authorized");
    const text = await (await fetch(`${String(listening.url)}/metrics`)).text();
    expect(text).to.match(/switchyard_psp_circuit_state\{psp="acme"\} 0/);
    expect(text).to.match(/switchyard_routing_decisions_total\{strategy="fallback",rule="fallback"\} 1/);
    expect(text).to.match(/switchyard_attempts_total\{psp="acme",class="approved"\} 1/);
    expect(await terminate(w)).to.deep.equal({ code: 0, signal: null });
  });

  it("logs JSON lines without card numbers or API keys, each line about a payment with its paymentId", async () => {
    latency(0);
    const w = worker("logging worker");
    await w.ready;
    const ids: string[] = [];
    // This spec's reply wait is 300 ms (for its 202 cases): a fresh worker's first payments may take
    // longer, so each is waited for at rest rather than read off the first answer.
    const good = await api.post("/v1/payments", paymentBody({ number: CARDS.success }));
    expect(good.status).to.be.oneOf([201, 202]);
    await settledAs(good.body.id, "authorized");
    ids.push(good.body.id);
    expect((await api.post(`/v1/payments/${good.body.id}/capture`, {})).status).to.be.oneOf([200, 202]);
    await settledAs(good.body.id, "captured");
    expect((await api.post(`/v1/payments/${good.body.id}/refunds`, { amount: 500 })).status).to.be.oneOf([
      200, 202,
    ]);
    await settledAs(good.body.id, "partially_refunded");
    for (const number of [CARDS.hardDecline, CARDS.threeDS]) {
      const res = await api.post("/v1/payments", paymentBody({ number }));
      await settledAs(res.body.id, STATE_OF_CARD[number]!);
      ids.push(res.body.id);
    }
    // A PSP whose answers are lost: the worker warns, waits, and resolves the payment later.
    sandbox.setBehaviour("acme", { fault: "http_500" });
    const lost = await api.post("/v1/payments", paymentBody({ number: CARDS.success }));
    ids.push(lost.body.id);
    await w.waitForLog((l) => l.msg === "payment waits on a PSP; retrying later", "a PSP wait");
    sandbox.setBehaviour("acme", { fault: "none" });
    await settledAs(lost.body.id, "authorized");
    await w.waitForLog((l) => l.paymentId === lost.body.id && l.status === "authorized", "the late outcome");
    expect(await terminate(w)).to.deep.equal({ code: 0, signal: null });

    const lines = w.lines();
    const logs = w.logs(); // every line parses as JSON
    const secrets = [
      ...Object.values(CARDS),
      ...gateway.merchants.map((m) => m.key),
      env.SWITCHYARD_CARD_KEY!,
    ];
    for (const secret of secrets) {
      expect(
        lines.filter((l) => l.includes(secret)),
        "lines with a secret",
      ).to.be.empty;
      expect(w.stderr()).not.to.contain(secret);
    }
    for (const id of ids) {
      expect(
        logs.filter((l) => l.paymentId === id && l.msg === "payment status changed"),
        `status lines of ${id}`,
      ).not.to.be.empty;
      const mentioning = lines
        .filter((l) => l.includes(id))
        .map((l) => JSON.parse(l) as { paymentId?: string });
      for (const l of mentioning) expect(l.paymentId, JSON.stringify(l)).to.equal(id);
    }
    // Lines about a payment that name no payment at all (e.g. a PSP call gone wrong) are not allowed.
    const aboutPsp = logs.filter((l) => typeof l.psp === "string" && typeof l.operation === "string");
    expect(aboutPsp, "PSP warnings were logged").not.to.be.empty;
    for (const l of aboutPsp) expect(ids, JSON.stringify(l)).to.include(l.paymentId);
  });
});
