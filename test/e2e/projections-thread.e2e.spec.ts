// The projections on a worker thread of the payment process (SWITCHYARD_PROJECTIONS=thread, what
// `npm start` runs against a PostgreSQL server): the read models, the ledger and the webhooks follow
// the streams from that thread, the process's /metrics serves the thread's series merged with its
// own, the thread's log lines reach the process's log, and a thread that dies under load is started
// again and applies what it had not — every payment once, nothing posted twice.
import { expect } from "chai";
import type postgres from "postgres";
import pino from "pino";
import { Writable } from "node:stream";
import { READ_MODELS } from "../../actors/readmodels.ts";
import {
  listAllPayments,
  startTestPlatform,
  testEnv,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { lintExposition, parseMetrics, series } from "../support/prometheus.ts";
import { startPaymentLoad } from "../support/payment-load.ts";
import { waitFor } from "../support/wait.ts";
import { createEndpoint, runSql, startReceiver, type Receiver } from "../support/webhooks.ts";

const AMOUNT = 2500;
const REFUND = 1000;
const EVENTS = ["payment.authorized", "payment.captured", "refund.succeeded"];
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
    const key: { secret?: string } = {};
    receiver = await startReceiver(() => key.secret);
    key.secret = (await createEndpoint(sql, env, { merchantId: "m_alpha", url: receiver.url })).secret;
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
    const ids = load.made.map((p) => p.id);
    const n = ids.length;

    const want = { status: "partially_refunded", captured_amount: AMOUNT, refunded_amount: REFUND };
    const listed = await waitFor(
      async () => {
        const all = new Map((await listAllPayments(api)).map((p) => [p.id, p]));
        return ids.every((id) => all.get(id)?.status === want.status) ? all : undefined;
      },
      {
        timeoutMs: 30_000,
        what: "every payment in the merchant's list with its final status",
        intervalMs: 250,
      },
    );
    expect(listed.size).to.equal(n);
    for (const id of ids) expect(listed.get(id), id).to.include(want);

    const [ledger] = await sql<{ entries: number; distinct: number; capture: number; refund: number }[]>`
      select count(*)::int as entries, count(distinct (payment_id, kind))::int as distinct,
        (count(*) filter (where kind = 'capture'))::int as capture,
        (count(*) filter (where kind = 'refund'))::int as refund
      from ledger_entries`;
    expect(ledger).to.deep.equal({ entries: 2 * n, distinct: 2 * n, capture: n, refund: n });
    const [postings] = await sql<{ n: number }[]>`select count(*)::int as n from ledger_postings`;
    expect(postings?.n).to.equal(4 * n);

    const delivered = await waitFor(
      async () => {
        const [c] = await sql<{ events: number; pending: number }[]>`
          select (select count(*)::int from webhook_events) as events,
            (select count(*)::int from webhook_deliveries where status <> 'succeeded') as pending`;
        return c?.events === EVENTS.length * n && c.pending === 0 ? c : undefined;
      },
      { timeoutMs: 30_000, what: "every webhook event stored and delivered", intervalMs: 250 },
    );
    expect(delivered.events).to.equal(EVENTS.length * n);
    const [deliveries] = await sql<{ n: number; distinct: number }[]>`
      select count(*)::int as n, count(distinct (event_id, endpoint_id))::int as distinct
      from webhook_deliveries`;
    expect(deliveries).to.deep.equal({ n: EVENTS.length * n, distinct: EVENTS.length * n });
    // Every event reached the endpoint; twice only what the killed sender had in flight.
    const arrivals = new Map<string, number[]>();
    for (const r of receiver.ok()) arrivals.set(r.id, [...(arrivals.get(r.id) ?? []), r.at]);
    const stored = await sql<{ id: string }[]>`select id from webhook_events`;
    expect([...arrivals.keys()].sort()).to.deep.equal(stored.map((r) => r.id).sort());
    const twice = [...arrivals].filter(([, at]) => at.length > 1);
    expect(twice.length, "received twice").to.be.at.most(SENDS);
    for (const [id, at] of twice)
      expect(at[0], `${id} first sent by the killed thread`).to.be.below(killedAt);

    // The process's /metrics: the thread's series (the read models' lag back to ~0, the restart)
    // beside the process's own, each once — a valid exposition.
    await waitFor(
      async () => {
        const samples = parseMetrics(await (await fetch(`${platform.url}/metrics`)).text());
        return READ_MODELS.every((name) => {
          const behind = series(samples, "switchyard_read_model_behind_messages", { read_model: name });
          const lag = series(samples, "switchyard_read_model_lag_seconds", { read_model: name });
          return behind[0]?.value === 0 && lag[0] !== undefined && lag[0].value < 1;
        });
      },
      {
        timeoutMs: 15_000,
        what: "the read models' lag back to ~0 on the process's /metrics",
        intervalMs: 250,
      },
    );
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
