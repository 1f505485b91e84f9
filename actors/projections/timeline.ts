// A payment's timeline for operators: its events in order, read from the record (PAY_EVT) — not the
// read model — with sequence, time, trace id and data without secrets; its PSP attempts with the
// request id sent; what settlement and reconciliation say of it (read models); and the merchant
// webhooks it caused, each delivery with every attempt.
import type { Sql } from "../../streams/db/client.ts";
import type { EventStore } from "../../streams/event-store.ts";
import { evolveAll } from "../payment/core/evolve.ts";
import type { PaymentEvent } from "../payment/core/events.ts";
import { toView, type PaymentView } from "../payment/core/view.ts";
import { PaymentEvents } from "../payment/core/wire.ts";
import { eventLabel } from "./event-labels.ts";

export type Timeline = {
  payment: PaymentView;
  events: Array<{
    seq: number;
    event_no: number;
    at: string;
    type: string;
    /** What happened, in words (event-labels.ts). */
    label: string;
    /** The PSP notification that brought the event (3-D Secure completed), when one did. */
    notification_id: string | null;
    data: Record<string, unknown>;
    trace_id: string | null;
  }>;
  attempts: Array<{
    attempt: number;
    psp: string;
    request_id: string;
    status: string;
    psp_reference: string | null;
    code: string | null;
    requested_at: string;
    completed_at: string | null;
  }>;
  settlement_lines: Array<Record<string, unknown>>;
  exceptions: Array<Record<string, unknown>>;
  /** Webhook deliveries of the payment's merchant events, oldest first, with each attempt. */
  webhooks: Array<{
    delivery_id: string;
    event_id: string;
    event_type: string;
    endpoint_id: string;
    origin: string;
    status: string;
    attempts: Array<Record<string, unknown>>;
    created_at: string;
  }>;
};

/** Fingerprints are for matching requests and cards inside the platform: not shown. */
function withoutSecrets(e: PaymentEvent): Record<string, unknown> {
  const { type: _t, ...data } = e as Record<string, unknown> & { type: string };
  delete data.requestFingerprint;
  const card = data.card as Record<string, unknown> | undefined;
  if (card) data.card = { ...card, fingerprint: undefined };
  return JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
}

export async function timeline(
  store: EventStore,
  sql: Sql,
  paymentId: string,
): Promise<Timeline | undefined> {
  const last = await store.last(paymentId);
  if (!last) return undefined;
  const events: Timeline["events"] = [];
  const all: PaymentEvent[] = [];
  for await (const frame of store.frames(paymentId, 0, last)) {
    const parsed = PaymentEvents.safeParse(frame.events);
    if (!parsed.success) continue;
    parsed.data.forEach((e, i) => {
      all.push(e);
      events.push({
        seq: frame.seq,
        event_no: frame.firstEventNo + i,
        at: e.at,
        type: e.type,
        label: eventLabel(e),
        notification_id: "notificationId" in e ? (e.notificationId ?? null) : null,
        data: withoutSecrets(e),
        trace_id: frame.traceId ?? null,
      });
    });
  }
  const state = evolveAll(undefined, all);
  if (!state) return undefined;
  const [lines, exceptions, webhooks] = await Promise.all([
    sql<Record<string, unknown>[]>`
      select psp, report_id, line_no, line_id, kind, psp_reference, currency, amount, fee, expected_fee, net,
        batch, payout_id, created_at, outcome, exception_id
      from settlement_lines where payment_id = ${paymentId} order by created_at, report_id, line_no`,
    sql<Record<string, unknown>[]>`
      select id, kind, psp, status, detail, opened_at, resolution, resolved_by, resolved_at, reason
      from recon_exceptions where payment_id = ${paymentId} order by opened_at`,
    sql<Array<Timeline["webhooks"][number] & { created_at: Date }>>`
      select d.id as delivery_id, d.event_id, e.type as event_type, d.endpoint_id, d.origin, d.status,
        d.attempt_log as attempts, d.created_at
      from webhook_deliveries d join webhook_events e on e.id = d.event_id
      where d.payment_id = ${paymentId} order by d.seq, d.idx, d.created_at`,
  ]);
  return {
    payment: toView(state),
    events,
    attempts: state.attempts.map((a) => ({
      attempt: a.no,
      psp: a.psp,
      request_id: a.idempotencyKey,
      status: a.status,
      psp_reference: a.pspReference ?? null,
      code: a.code ?? null,
      requested_at: a.requestedAt,
      completed_at: a.completedAt ?? null,
    })),
    settlement_lines: lines.map((r) => ({ ...r })),
    exceptions: exceptions.map((r) => ({ ...r })),
    webhooks: webhooks.map((w) => ({ ...w, created_at: w.created_at.toISOString() })),
  };
}
