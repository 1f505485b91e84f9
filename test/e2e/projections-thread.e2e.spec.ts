// The projections on a worker thread of the payment process (SWITCHYARD_PROJECTIONS=thread, an option
// for a process with cores to spare): the read models, the ledger and the webhooks follow
// the streams from that thread, the process's /metrics serves the thread's series merged with its
// own, the thread's log lines reach the process's log, and a thread that dies under load is started
// again and applies what it had not — every payment once, nothing posted twice.
import { expect } from "chai";
import type postgres from "postgres";
import pino from "pino";
import { readdirSync } from "node:fs";
import { Writable } from "node:stream";
import { procCpuMs } from "../../scripts/bench/procfile.ts";
import { expectAppliedOnce, lagGone } from "../support/applied-once.ts";
import { startTestPlatform, testEnv, type Api, type TestPlatform } from "../support/platform.ts";
import { lintExposition, parseMetrics, series } from "../support/prometheus.ts";
import { startPaymentLoad } from "../support/payment-load.ts";
import { waitFor } from "../support/wait.ts";
import { runSql, startEndpointReceiver, type Receiver } from "../support/webhooks.ts";

const AMOUNT = 2500;
const REFUND = 1000;
const CLIENTS = 6;
/** Deliveries the sender has in flight at most: what a kill may make the endpoint receive twice. */
const SENDS = 4;

describe("the projections on their own thread (e2e)", function () {
  this.timeout(150_000);
  let platform: TestPlatform;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let receiver: Receiver;
  let api: Api;
  const lines: Array<Record<string, unknown>> = [];

  before(async () => {
    env = testEnv({
      SWITCHYARD_PROJECTIONS: "thread",
      LOG_LEVEL: "info",
      SWITCHYARD_WEBHOOK_POLL_MS: "100",
      SWITCHYARD_WEBHOOK_TIMEOUT_MS: "1000",
      SWITCHYARD_WEBHOOK_CONCURRENCY: String(SENDS),
    });
    // The process's log, as a destination: the thread's lines must arrive here, whole.
    let partial = "";
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        const text = partial + chunk.toString("utf8");
        const parts = text.split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    platform = await startTestPlatform({ env, log: pino({ level: "info" }, destination) });
    api = platform.api(platform.merchants[0]!);
    sql = runSql(env);
    receiver = await startEndpointReceiver(sql, env, "m_alpha");
  });
  after(async () => {
    await receiver?.close();
    await sql?.end({ timeout: 1 });
    await platform?.cleanup();
  });

  const projected = async (): Promise<number> => {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from payments`;
    return row?.n ?? 0;
  };

  it("runs them off the process's event loop: nothing of them in this thread", () => {
    expect(platform.projectionsThread, "the thread").to.not.equal(undefined);
    expect(platform.projectionsThread!.threadId).to.be.a("number").above(0);
    expect(platform.readModels).to.equal(undefined);
    expect(platform.webhooks).to.equal(undefined);
    expect(platform.expiry).to.equal(undefined);
    const started = lines.find((l) => l.msg === "projections running on their own thread");
    expect(started, "the process says so").to.not.equal(undefined);
    // The thread's own lines, through the process's destination, marked as the thread's.
    expect(lines.some((l) => l.thread === "projections" && l.role === "worker")).to.equal(true);
  });

  it("names its OS thread, whose CPU time the bench reads apart from the payments' thread", async () => {
    const stats = await platform.projectionsThread!.stats();
    const tid = stats?.osThreadId;
    expect(tid, "the thread's OS id").to.be.a("number");
    // Another thread of this very process: not the main thread, and listed under it in /proc.
    expect(tid).to.not.equal(process.pid);
    expect(readdirSync("/proc/self/task")).to.include(String(tid));
    // Its CPU time is its own: it has started the followers, so it has spent some.
    const cpu = procCpuMs(process.pid, tid);
    expect(cpu, "its CPU time").to.be.a("number").above(0);
  });

  it("catches up after the thread is killed under load: every payment listed once, nothing posted twice", async () => {
    const thread = platform.projectionsThread!;
    const firstId = thread.threadId;
    const load = startPaymentLoad(api, CLIENTS, { amount: AMOUNT, refund: REFUND });
    let killedAt = 0;
    try {
      await waitFor(async () => (await projected()) >= 20 && receiver.ok().length >= 10, {
        timeoutMs: 30_000,
        what: "the thread applying the load and delivering",
      });
      await thread.kill();
      killedAt = Date.now();
      // Restarted by the process (the first restart waits a second), under the same load.
      await waitFor(() => thread.threadId !== undefined && thread.threadId !== firstId, {
        timeoutMs: 15_000,
        what: "the thread started again",
      });
      const atRestart = load.made.length;
      await waitFor(() => load.done() >= atRestart + 20, {
        timeoutMs: 30_000,
        what: "20 more payments with the new thread running",
      });
    } finally {
      await load.stop();
    }
    expect(load.failures, "every step answered").to.deep.equal([]);
    expect(thread.restarts).to.equal(1);
    expect(
      lines.some((l) => l.msg?.toString().startsWith("projections thread ended unasked") && l.level === 50),
      "the restart logged as an error",
    ).to.equal(true);
    await expectAppliedOnce({
      api,
      sql,
      receiver,
      ids: load.made.map((p) => p.id),
      amount: AMOUNT,
      refund: REFUND,
      sends: SENDS,
      killedBefore: killedAt,
    });
    // The process's /metrics: the thread's series (the read models' lag back to ~0, the restart)
    // beside the process's own, each once — a valid exposition.
    await lagGone(platform.url, "the process's /metrics");
    const text = await (await fetch(`${platform.url}/metrics`)).text();
    expect(lintExposition(text)).to.deep.equal([]);
    const samples = parseMetrics(text);
    expect(series(samples, "switchyard_projections_thread_restarts_total")[0]?.value).to.equal(1);
    // The process's own series once, not doubled by the merge (the thread registers none of them).
    const started = series(samples, "switchyard_process_start_time_seconds");
    expect(started).to.have.length(1);
    expect(started[0]!.value).to.be.closeTo(Date.now() / 1000, 3_600);
    // Counted in this thread (commands) and in that one (payments applied to the read model).
    expect(series(samples, "switchyard_http_request_duration_seconds_count").length).to.be.above(0);
  });

  it("stops with the platform: the thread ends, no restart", async () => {
    const thread = platform.projectionsThread!;
    await platform.stop();
    expect(thread.threadId).to.equal(undefined);
    expect(thread.restarts).to.equal(1);
    expect(
      lines.filter((l) => l.msg?.toString().startsWith("projections thread ended unasked")),
    ).to.have.length(1);
  });
});
