// Frames a follower sets aside (migration 008): what makes a frame poison rather than a failure to
// retry, how it is recorded, and how operators list them. A follower that cannot apply one frame
// records it here, in the transaction that moves its position past it, and goes on; one that cannot
// reach the database retries and sets nothing aside. Read models, the webhook dispatcher and the
// settlement followers all use it (docs/architecture.md, "Followers").
import type { Sql, Tx } from "./client.ts";

/** A frame this follower can never apply, whatever the database's state: set it aside. */
export class PoisonFrameError extends Error {
  override name = "PoisonFrameError";
  constructor(
    /** undecodable (not the record's shape) or unreadable (not by this version). */
    readonly code: "undecodable" | "unreadable",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * SQLSTATE classes that name the data, not the database: 22 data exception (22021 invalid byte
 * sequence — a NUL; 22P02 invalid text representation — a lone surrogate in json; 22P05 untranslatable
 * character; 22003 out of range…), 23 integrity constraint violation, 54 program limit exceeded
 * (54000: an index row too large). Applying the same frame again fails the same way. Everything else
 * — a connection refused or closed, 08 connection, 40 rollback, 53 resources, 57 operator
 * intervention, 42 a missing column after a bad deploy, XX internal — is retried: setting a frame
 * aside for it would set aside every frame.
 */
const POISON_CLASSES = new Set(["22", "23", "54"]);

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The SQLSTATE of a PostgreSQL error (postgres.js keeps it in `code`), if it is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && SQLSTATE.test(code) ? code : undefined;
}

/** True when the error is the frame's fault: applying it again cannot succeed. */
export function isPoison(err: unknown): boolean {
  if (err instanceof PoisonFrameError) return true;
  const state = sqlState(err);
  return state !== undefined && POISON_CLASSES.has(state.slice(0, 2));
}

/** The code recorded for a poison error: the SQLSTATE, or the decoder's reason. */
export function poisonCode(err: unknown): string {
  if (err instanceof PoisonFrameError) return err.code;
  return sqlState(err) ?? "unknown";
}

export type SetAsideFrame = {
  follower: string;
  stream: string;
  seq: number;
  subject: string;
  appendedAt: Date;
  code: string;
  reason: string;
};

const REASON_MAX = 500;

/** Record a frame set aside, in the caller's transaction; a second record of it is one record. */
export async function recordSetAside(tx: Tx | Sql, f: SetAsideFrame): Promise<void> {
  await tx`insert into follower_set_aside ${tx({
    follower: f.follower,
    stream: f.stream,
    seq: f.seq,
    subject: f.subject,
    appended_at: f.appendedAt,
    code: f.code,
    // PostgreSQL's own message (`invalid byte sequence for encoding "UTF8": 0x00`): never the frame.
    reason: printable(f.reason).slice(0, REASON_MAX),
  })} on conflict (follower, seq) do update set code = excluded.code, reason = excluded.reason,
    set_aside_at = now()`;
}

export type SetAsideRow = {
  follower: string;
  stream: string;
  seq: number;
  subject: string;
  appended_at: Date;
  code: string;
  reason: string;
  set_aside_at: Date;
};

/** Frames set aside, newest first (by follower when given). */
export async function listSetAside(
  sql: Sql,
  o: { follower?: string; limit: number },
): Promise<SetAsideRow[]> {
  return sql<SetAsideRow[]>`
    select follower, stream, seq, subject, appended_at, code, reason, set_aside_at
    from follower_set_aside
    where ${o.follower === undefined ? sql`true` : sql`follower = ${o.follower}`}
    order by set_aside_at desc, follower, seq desc
    limit ${o.limit}`;
}

/** Forget the frames set aside by these followers (a rebuild replays and sets aside again what still fails). */
export async function clearSetAside(tx: Tx, followers: readonly string[]): Promise<void> {
  await tx`delete from follower_set_aside where follower = any(${followers as string[]})`;
}

export const ReadModelStatus = {
  ready: "ready",
  rebuilding: "rebuilding",
  failing: "failing",
} as const;
export type ReadModelStatus = (typeof ReadModelStatus)[keyof typeof ReadModelStatus];

export type ReadModelState = {
  name: string;
  position: number;
  /** The stream's last sequence when a rebuild was asked for; null when none is under way. */
  rebuild_to: number | null;
  failing_since: Date | null;
  last_error: string | null;
  set_aside: number;
  status: ReadModelStatus;
};

/**
 * Each read model's state as the database records it: rebuilding while its position is below its
 * rebuild's target, failing while its batches fail, else ready; and how many frames it set aside.
 */
export async function readModelStates(sql: Sql, names: readonly string[]): Promise<ReadModelState[]> {
  const rows = await sql<
    {
      name: string;
      last_seq: number;
      rebuild_to: number | null;
      failing_since: Date | null;
      last_error: string | null;
      set_aside: number;
    }[]
  >`
    select n.name, coalesce(o.last_seq, 0)::bigint as last_seq, o.rebuild_to, o.failing_since, o.last_error,
      (select count(*) from follower_set_aside s where s.follower = n.name)::bigint as set_aside
    from unnest(${names as string[]}::text[]) as n(name)
    left join projection_offsets o on o.name = n.name
    order by n.name`;
  return rows.map((r) => ({
    name: r.name,
    position: r.last_seq,
    rebuild_to: r.rebuild_to,
    failing_since: r.failing_since,
    last_error: r.last_error,
    set_aside: r.set_aside,
    status:
      r.rebuild_to !== null && r.last_seq < r.rebuild_to
        ? ReadModelStatus.rebuilding
        : r.failing_since !== null
          ? ReadModelStatus.failing
          : ReadModelStatus.ready,
  }));
}

/** The text of a reason without control characters (a reason quoting the bad value stays storable). */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, "?").replace(/\p{Cs}/gu, "?");
}
