// What a load of create → capture → partial refund must have left once the followers that applied it
// were killed and came back (a projector process, the projections thread): every payment in the
// merchant's list with its final status, the ledger's entries and postings exactly once, every
// webhook event stored and delivered, received once more than its recorded attempts at most by what
// the killed sender had in flight — and the read models' lag back to ~0 on a /metrics door. Shared by the specs that kill
// followers under load (test/e2e/projector-kill.e2e.spec.ts, test/e2e/projections-thread.e2e.spec.ts).
import { expect } from "chai";
import type postgres from "postgres";
import { READ_MODELS } from "../../actors/readmodels.ts";
import { listAllPayments, type Api } from "./platform.ts";
import { parseMetrics, series } from "./prometheus.ts";
import { waitFor } from "./wait.ts";
import type { Receiver } from "./webhooks.ts";

/** The merchant events of create → capture → partial refund. */
export const REFUNDED_EVENTS = ["payment.authorized", "payment.captured", "refund.succeeded"];

export async function expectAppliedOnce(o: {
  api: Api;
  sql: postgres.Sql;
  receiver: Receiver;
  ids: readonly string[];
  amount: number;
  refund: number;
  /** Deliveries the killed sender could have had in flight: received twice at most. */
  sends: number;
  /** A delivery received twice was first sent before this (ms since the epoch): by the killed one. */
  killedBefore: number;
}): Promise<void> {
  const { api, sql, ids } = o;
  const n = ids.length;
  const want = { status: "partially_refunded", captured_amount: o.amount, refunded_amount: o.refund };
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

  // The ledger: one capture and one refund entry per payment, of two postings each, none twice.
  const [ledger] = await sql<{ entries: number; distinct: number; capture: number; refund: number }[]>`
    select count(*)::int as entries, count(distinct (payment_id, kind))::int as distinct,
      (count(*) filter (where kind = 'capture'))::int as capture,
      (count(*) filter (where kind = 'refund'))::int as refund
    from ledger_entries`;
  expect(ledger).to.deep.equal({ entries: 2 * n, distinct: 2 * n, capture: n, refund: n });
  const [postings] = await sql<{ n: number }[]>`select count(*)::int as n from ledger_postings`;
  expect(postings?.n).to.equal(4 * n);

  // Webhooks: each event stored once, one delivery row for the endpoint, succeeded.
  const events = REFUNDED_EVENTS.length * n;
  const delivered = await waitFor(
    async () => {
      const [c] = await sql<{ events: number; pending: number }[]>`
        select (select count(*)::int from webhook_events) as events,
          (select count(*)::int from webhook_deliveries where status <> 'succeeded') as pending`;
      return c?.events === events && c.pending === 0 ? c : undefined;
    },
    { timeoutMs: 30_000, what: "every webhook event stored and delivered", intervalMs: 250 },
  );
  expect(delivered.events).to.equal(events);
  const [deliveries] = await sql<{ n: number; distinct: number }[]>`
    select count(*)::int as n, count(distinct (event_id, endpoint_id))::int as distinct
    from webhook_deliveries`;
  expect(deliveries).to.deep.equal({ n: events, distinct: events });
  // The endpoint received every event, and each attempt the deliveries record at most once; beyond
  // those, once more only what the killed sender had in flight (an attempt it never recorded). A
  // recorded failed attempt that still reached the endpoint (a timeout on a slow machine) and its
  // retry are the contract's at-least-once, not the kill's: told apart by the delivery's attempt log.
  const arrivals = new Map<string, number[]>();
  for (const r of o.receiver.ok()) arrivals.set(r.id, [...(arrivals.get(r.id) ?? []), r.at]);
  const stored = await sql<{ id: string; attempts: number }[]>`
    select e.id, jsonb_array_length(d.attempt_log)::int as attempts
    from webhook_events e join webhook_deliveries d on d.event_id = e.id`;
  expect([...arrivals.keys()].sort()).to.deep.equal(stored.map((r) => r.id).sort());
  const unrecorded = stored.filter((r) => (arrivals.get(r.id)?.length ?? 0) > r.attempts);
  expect(unrecorded.length, "received once more than recorded: the killed sender's").to.be.at.most(o.sends);
  for (const { id, attempts } of unrecorded) {
    const at = arrivals.get(id)!;
    expect(at.length, `${id}: arrivals against ${attempts} recorded attempt(s)`).to.equal(attempts + 1);
    expect(at[0], `${id} first sent by the killed sender`).to.be.below(o.killedBefore);
  }
}

/** The read models' lag back to ~0 on the /metrics of `baseUrl` (measured on a timer, every 5 s). */
export async function lagGone(baseUrl: string, where: string): Promise<void> {
  await waitFor(
    async () => {
      const samples = parseMetrics(await (await fetch(`${baseUrl}/metrics`)).text());
      return READ_MODELS.every((name) => {
        const behind = series(samples, "switchyard_read_model_behind_messages", { read_model: name });
        const lag = series(samples, "switchyard_read_model_lag_seconds", { read_model: name });
        return behind[0]?.value === 0 && lag[0] !== undefined && lag[0].value < 1;
      });
    },
    { timeoutMs: 15_000, what: `the read models' lag back to ~0 on ${where}`, intervalMs: 250 },
  );
}
