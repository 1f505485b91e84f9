// The projector role (issue 17): a worker with SWITCHYARD_PROJECTIONS=off applies nothing — the read
// models stay empty until a projector, a separate OS process (actors/projector-main.ts, as the
// Procfile runs it), follows the streams. Killed (SIGKILL) in the middle of a load, it costs the
// payments nothing: they are answered all the while; a new projector catches up, and every payment
// is in the merchant's list with its final status, once in the ledger (the trial balance exactly the
// expected totals) and once in the webhook events, each delivered at least once.
import { expect } from "chai";
import type postgres from "postgres";
import { appendedFrameStats } from "../../actors/projections/frames.ts";
import {
  listAllPayments,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { runSql, startEndpointReceiver, type Receiver } from "../support/webhooks.ts";
import { startProjectorProcess, type WorkerProcess } from "../support/worker-process.ts";

type Trial = {
  balanced: boolean;
  complete: boolean;
  totals: { currency: string; debit: number; credit: number; balanced: boolean }[];
};

const AMOUNT = 2500;

describe("the projector role: projections off the payment workers (e2e)", function () {
  this.timeout(180_000);
  let platform: TestPlatform;
  let env: Record<string, string>;
  let sql: postgres.Sql;
  let receiver: Receiver;
  let api: Api;
  const projectors: WorkerProcess[] = [];
  /** Every payment of the run, with the status its 201 answered. */
  const made = new Map<string, string>();

  before(async () => {
    env = testEnv({
      SWITCHYARD_PROJECTIONS: "off",
      SWITCHYARD_PROJECTOR_METRICS_PORT: "0",
      SWITCHYARD_WEBHOOK_POLL_MS: "100",
      // Leases of 2 × timeout + 1 s: what the killed projector had claimed is sent again within seconds.
      SWITCHYARD_WEBHOOK_TIMEOUT_MS: "1000",
      SWITCHYARD_WEBHOOK_CONCURRENCY: "4",
    });
    // Gateway, sandbox and a worker in this process: the worker with its projections off.
    platform = await startTestPlatform({ env });
    api = platform.api(platform.merchants[0]!);
    sql = runSql(env);
    receiver = await startEndpointReceiver(sql, env, "m_alpha");
  });
  after(async () => {
    for (const p of projectors) p.kill();
    await receiver?.close();
    await sql?.end({ timeout: 1 });
    await platform?.cleanup();
  });

  const pay = async (): Promise<number> => {
    const res = await api.post("/v1/payments", paymentBody({ capture: "automatic", amount: AMOUNT }));
    if (res.status === 201) made.set(res.body.id, res.body.status);
    return res.status;
  };
  const position = async (name: string): Promise<number> => {
    const [row] = await sql<
      { last_seq: string }[]
    >`select last_seq from projection_offsets where name = ${name}`;
    return row ? Number(row.last_seq) : 0;
  };
  const projected = async (): Promise<number> => {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from payments`;
    return row?.n ?? 0;
  };

  /** Waits until the list has every payment made so far, each with the status its answer gave. */
  const listCaughtUp = (what: string) =>
    waitFor(
      async () => {
        const listed = new Map((await listAllPayments(api)).map((p) => [p.id, p.status]));
        return [...made].every(([id, status]) => listed.get(id) === status) ? listed : undefined;
      },
      { timeoutMs: 60_000, what, intervalMs: 200 },
    );

  it("with projections off, the worker applies nothing: the read models stay empty until a projector runs", async () => {
    expect(platform.readModels, "no read models in the worker").to.equal(undefined);
    const frames = appendedFrameStats();
    for (let i = 0; i < 3; i++) expect(await pay()).to.equal(201);
    // The worker's janitor, its one reader of PAY_EVT now, takes the frames its journal appended
    // from memory (two a payment: created … authorized, captured), parsing none of them again.
    await waitFor(() => appendedFrameStats().taken - frames.taken >= 6, {
      timeoutMs: 10_000,
      what: "the janitor taking the worker's six frames from memory",
    });
    // The payments are answered (their events are on PAY_EVT), and nothing followed them.
    const events = await platform.metrics.registry
      .getSingleMetric("switchyard_read_model_lag_seconds")
      ?.get();
    expect(events?.values ?? []).to.deep.equal([]);
    expect(await projected()).to.equal(0);
    expect(await position("payments")).to.equal(0);
    expect((await listAllPayments(api)).length).to.equal(0);
    const [hooks] = await sql<{ n: number }[]>`select count(*)::int as n from webhook_events`;
    expect(hooks?.n).to.equal(0);

    const projector = startProjectorProcess(env, "projector-0");
    projectors.push(projector);
    await projector.ready;
    const listed = await listCaughtUp("the projector's first catch-up");
    expect(listed.size).to.equal(3);
    expect([...listed.values()]).to.deep.equal(["captured", "captured", "captured"]);
    // Its own /metrics door, with the lag it measures.
    const url = (await projector.waitForLog((l) => l.msg === "projector metrics listening", "metrics"))
      .url as string;
    // (the lag is measured on a timer: its first measure is the event waited for)
    const text = await waitFor(
      async () => {
        const body = await (await fetch(`${url}/metrics`)).text();
        return body.includes('switchyard_read_model_lag_seconds{read_model="payments"}') ? body : undefined;
      },
      { timeoutMs: 15_000, what: "the projector's first lag measure on its /metrics", intervalMs: 250 },
    );
    expect(text).to.match(/switchyard_read_model_behind_messages\{read_model="payments"\} 0/);
    // SIGTERM: it stops on its own, cleanly.
    projector.child.kill("SIGTERM");
    expect(await projector.exited).to.deep.equal({ code: 0, signal: null });
  });

  it("killed under load, payments go on; a new projector catches up and applies nothing twice", async () => {
    const answers: number[] = [];
    let running = true;
    const clients = Array.from({ length: 4 }, async () => {
      while (running) answers.push(await pay());
    });
    try {
      const first = startProjectorProcess(env, "projector-1");
      projectors.push(first);
      await first.ready;
      const before = await projected();
      // Killed in the middle of the flow: applying batches and sending deliveries.
      await waitFor(async () => (await projected()) >= before + 10 && receiver.ok().length > 0, {
        timeoutMs: 60_000,
        what: "the projector applying the load",
      });
      first.child.kill("SIGKILL");
      expect(await first.exited).to.deep.equal({ code: null, signal: "SIGKILL" });
      const atKill = { payments: made.size, position: await position("payments") };

      // Down: payments are still answered, and nobody applies them.
      await waitFor(() => made.size >= atKill.payments + 40, {
        timeoutMs: 60_000,
        what: "40 payments answered with the projector down",
      });
      expect(await position("payments"), "nothing applied while the projector is down").to.equal(
        atKill.position,
      );
    } finally {
      running = false;
      await Promise.all(clients);
    }
    expect(answers.filter((s) => s !== 201)).to.deep.equal([]);

    const second = startProjectorProcess(env, "projector-2");
    projectors.push(second);
    await second.ready;
    const listed = await listCaughtUp("every payment in the merchant's list with its final status");
    expect(listed.size).to.equal(made.size);

    // The ledger: one entry per captured payment (receivable / merchant payable), none twice, and
    // the trial balance exactly N × the amount on each side.
    const ids = [...made.keys()];
    const [entries] = await sql<{ n: number; payments: number }[]>`
      select count(*)::int as n, count(distinct payment_id)::int as payments
      from ledger_entries where payment_id = any(${ids})`;
    expect(entries).to.deep.equal({ n: ids.length, payments: ids.length });
    const trial = await platform.ops.get<Trial>("/ops/ledger/trial-balance");
    expect(trial.status, JSON.stringify(trial.body)).to.equal(200);
    expect(trial.body.balanced).to.equal(true);
    expect(trial.body.complete).to.equal(true);
    expect(trial.body.totals).to.deep.equal([
      { currency: "EUR", debit: ids.length * AMOUNT, credit: ids.length * AMOUNT, balanced: true },
    ]);

    // The webhook dispatcher under the kill: each event stored once, each delivered at least once.
    // (~56 s while it was a durable consumer waiting out its ack_wait; a follower resumes at once.)
    const perPayment = await waitFor(
      async () => {
        const rows = await sql<{ n: number }[]>`
          select count(*)::int as n from webhook_events group by payment_id`;
        const [pending] = await sql<{ n: number }[]>`
          select count(*)::int as n from webhook_deliveries where status <> 'succeeded'`;
        return rows.length === ids.length && pending?.n === 0 ? rows : undefined;
      },
      { timeoutMs: 30_000, what: "every webhook event stored and delivered", intervalMs: 250 },
    );
    const [stored] = await sql<{ n: number; distinct: number }[]>`
      select count(*)::int as n, count(distinct id)::int as distinct from webhook_events`;
    expect(stored?.n).to.equal(stored?.distinct);
    expect(new Set(perPayment.map((r) => r.n)).size, "the same events for every payment").to.equal(1);
    expect(new Set(receiver.ok().map((r) => r.id)).size).to.equal(stored?.n);
  });
});
