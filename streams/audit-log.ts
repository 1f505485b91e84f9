// The audit trail: every operator action (policy changes, PSP rotation, resolutions, redrives, key
// changes) as one message in the append-only AUDIT stream — who, what, when, on what, why — and its
// projection in PostgreSQL (`audit_log`) for GET /ops/audit, written right after the stream append
// (the gateway that appends it is the one writer; a lost row is in the stream). The stream is the
// record: `append` fails only when the stream did not take it, and the operator routes then refuse
// the change (gateway/routes/ops-common.ts).
import type { JetStreamClient } from "@nats-io/jetstream";
import { z } from "zod";
import type { Metrics } from "../config/metrics.ts";
import type { Sql, Tx } from "./db/client.ts";
import { encode } from "./envelopes.ts";
import type { Topology } from "./topology.ts";

export const AuditRecord = z.object({
  v: z.literal(1),
  at: z.string(),
  /** The operator's name (never a key). */
  actor: z.string(),
  /** Dotted: `policy.activate`, `psp.out`, `reconciliation.resolve`, `payment.resolve`, `merchant_key.revoke`… */
  action: z.string(),
  message: z.string(),
  fields: z.record(z.string(), z.unknown()),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

export type AuditRow = AuditRecord & { seq: number };

const SAFE = /[^A-Za-z0-9_-]/g;

export class AuditLog {
  constructor(
    private readonly js: JetStreamClient,
    private readonly topo: Topology,
    private readonly sql: Sql,
    private readonly metrics?: Pick<Metrics, "auditWriteFailures">,
    private readonly onProjectionError: (err: unknown, seq: number) => void = () => undefined,
  ) {}

  /**
   * Appends to the stream (the record; throws when the stream did not take it), then to the read
   * model so a read right after sees it. A row that cannot be written is reported and counted, not
   * thrown: the record is stored.
   */
  async append(r: AuditRecord): Promise<number> {
    const subject = `${this.topo.auditBase}.${r.action
      .split(".")
      .map((t) => t.replace(SAFE, "_") || "_")
      .join(".")}`;
    let seq: number;
    try {
      seq = (await this.js.publish(subject, encode(r), { timeout: 5_000 })).seq;
    } catch (err) {
      this.metrics?.auditWriteFailures.inc({ part: "stream" });
      throw err;
    }
    try {
      await this.sql.begin((tx) => insertAudit(tx, [{ ...r, seq }]));
    } catch (err) {
      this.metrics?.auditWriteFailures.inc({ part: "read_model" });
      this.onProjectionError(err, seq);
    }
    return seq;
  }

  async list(q: {
    actor?: string;
    action?: string;
    from?: string;
    to?: string;
    after?: number;
    limit: number;
  }): Promise<AuditRow[]> {
    const rows = await this.sql<
      {
        seq: number;
        at: Date;
        actor: string;
        action: string;
        message: string;
        fields: Record<string, unknown>;
      }[]
    >`
      select seq, at, actor, action, message, fields from audit_log
      where (${q.actor ?? null}::text is null or actor = ${q.actor ?? null})
        and (${q.action ?? null}::text is null or action = ${q.action ?? null} or action like ${`${q.action ?? ""}.%`})
        and (${q.from ?? null}::timestamptz is null or at >= ${q.from ?? null})
        and (${q.to ?? null}::timestamptz is null or at < ${q.to ?? null})
        and seq > ${q.after ?? 0}
      order by seq limit ${q.limit}`;
    return rows.map((r) => ({
      v: 1,
      seq: r.seq,
      at: r.at.toISOString(),
      actor: r.actor,
      action: r.action,
      message: r.message,
      fields: r.fields,
    }));
  }
}

export async function insertAudit(tx: Tx, rows: readonly AuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx`insert into audit_log ${tx(rows.map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, message: r.message, fields: r.fields as never })))}
    on conflict do nothing`;
}
