// The janitor: finds payments left unresolved — a PSP effect whose outcome never came back, a
// command dead-lettered after its retries, a worker lost at the wrong moment — and re-drives them.
//
// It follows PAY_EVT through the process's event tap (streams/event-tap.ts: one ordered consumer
// shared with the read models and the webhook dispatcher) and keeps in memory only the payments whose last frame may leave them open; a
// frame that closes its payment forgets it. Every sweep, a payment open for longer than
// janitorAfterMs is loaded; if it is still open it gets a ResumePayment command — settle what is
// open, status query first, never a second charge — and is looked at again after a backoff. Its
// position survives restarts in a KV checkpoint (the oldest frame still open), so a restart replays
// only what it must to rebuild the same picture. Each worker runs one; their resumes are
// deduplicated by message id, and a resume is always safe.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { openBucket } from "../streams/kv-open.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import { encode } from "../streams/envelopes.ts";
import { jsonOf, type FrameFeed, type FrameSource, type StreamMsg } from "../streams/event-tap.ts";
import { orderedSource } from "../streams/ordered-source.ts";
import { commandSubject, type Topology } from "../streams/topology.ts";
import { frameMayLeaveOpen, isAtRest } from "./payment/core/effects.ts";
import type { Journal } from "./payment/journal.ts";
import { followAppendedFrames, knownFrame } from "./projections/frames.ts";
import type { CommandEnvelope } from "./payment/core/wire.ts";
import { redeliveryDelayMs } from "./policy/core/retry.ts";

export type JanitorDeps = {
  js: JetStreamClient;
  topo: Topology;
  journal: Journal;
  metrics: Metrics;
  log: Logger;
  now: () => number;
  replicas?: number;
  /** The process's tap of PAY_EVT; by default an ordered consumer of the janitor's own. */
  source?: FrameSource;
};

/** A payment whose last frame may leave it open. */
type Open = { seq: number; since: number; nextLookAt: number; looks: number };

const CHECKPOINT_KEY = "checkpoint";

export function janitorBucketName(prefix: string): string {
  return prefix ? `${prefix}_janitor` : "janitor";
}

export class Janitor {
  readonly #open = new Map<string, Open>();
  #messages: FrameFeed | undefined;
  #loop: Promise<void> | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;
  #kv: KV | undefined;
  #lastSeq = 0;
  #savedCheckpoint = -1;
  #unfollow: (() => void) | undefined;

  constructor(private readonly d: JanitorDeps) {}

  async start(): Promise<void> {
    const bucket = janitorBucketName(this.d.topo.prefix);
    // Several workers start at once: the race every role's buckets have (streams/kv-open.ts).
    this.#kv = await openBucket(this.d.js, bucket, { history: 1, replicas: this.d.replicas ?? 1 });
    const saved = await this.#kv.get(CHECKPOINT_KEY);
    const from = saved ? Number(saved.string()) : 0;
    this.#lastSeq = Number.isSafeInteger(from) && from > 0 ? from : 0;
    const source =
      this.d.source ?? orderedSource(this.d.js, this.d.topo.eventStream, this.d.log, { maxMessages: 512 });
    this.#messages = await source.open(this.#lastSeq + 1);
    // The frames this process's journal appends are then kept for it as read: the janitor needs no
    // parse of its own when no follower of this process reads them (projections on their own thread,
    // or in a projector process).
    this.#unfollow = followAppendedFrames();
    this.#loop = this.follow(this.#messages);
    const every = Math.max(250, Math.min(this.d.topo.janitorAfterMs / 4, 5_000));
    this.#sweeper = setInterval(() => {
      this.#sweeping ??= this.sweep()
        .catch((err: unknown) => this.d.log.warn({ err }, "janitor sweep failed; next round"))
        .finally(() => (this.#sweeping = undefined));
    }, every);
    this.#sweeper.unref();
  }

  /** Payments whose last frame may leave them open: what the janitor holds in memory. */
  get watching(): number {
    return this.#open.size;
  }

  /** Payments open for longer than the threshold now (the gauge is set from it at each sweep). */
  get unresolved(): number {
    const cutoff = this.d.now() - this.d.topo.janitorAfterMs;
    let n = 0;
    for (const o of this.#open.values()) if (o.since <= cutoff) n++;
    return n;
  }

  private async follow(messages: FrameFeed): Promise<void> {
    for await (const { msg } of messages) this.see(msg);
  }

  private see(m: StreamMsg): void {
    this.#lastSeq = m.seq;
    const frame = parseFrame(m);
    if (!frame) return;
    if (!frameMayLeaveOpen(frame.types)) {
      this.#open.delete(frame.paymentId);
      return;
    }
    // The frame's own time: after a restart, old frames count as old at once.
    const since = m.time.getTime();
    const due = since + this.d.topo.janitorAfterMs;
    this.#open.set(frame.paymentId, { seq: m.seq, since, nextLookAt: due, looks: 0 });
  }

  private async sweep(): Promise<void> {
    const now = this.d.now();
    for (const [paymentId, o] of [...this.#open]) {
      if (o.nextLookAt > now) continue;
      const { state } = await this.d.journal.load(paymentId);
      if (this.#open.get(paymentId) !== o) continue; // a newer frame arrived meanwhile
      if (!state || isAtRest(state)) {
        this.#open.delete(paymentId);
        continue;
      }
      o.looks++;
      const envelope: CommandEnvelope = {
        v: 1,
        command: {
          type: "ResumePayment",
          paymentId,
          merchantId: state.merchantId,
          reason: `janitor: ${state.status} since ${new Date(o.since).toISOString()}`,
          at: new Date(now).toISOString(),
        },
      };
      await this.d.js.publish(commandSubject(this.d.topo, state.merchantId, paymentId), encode(envelope), {
        // Workers sweeping the same payment at the same look send one resume between them.
        msgID: `resume:${paymentId}:${o.seq}:${o.looks}`,
        timeout: 5_000,
      });
      o.nextLookAt = now + Math.max(this.d.topo.janitorAfterMs, redeliveryDelayMs(state.retry, o.looks));
      this.d.metrics.janitorRedrives.inc();
      this.d.log.warn(
        { paymentId, status: state.status, openSinceMs: now - o.since, looks: o.looks },
        "janitor: payment unresolved; re-driven (status query first)",
      );
    }
    this.d.metrics.janitorStuck.set(this.unresolved);
    await this.saveCheckpoint();
  }

  /** Everything before the oldest open frame is settled: a restart may start after it. */
  private async saveCheckpoint(): Promise<void> {
    let checkpoint = this.#lastSeq;
    for (const o of this.#open.values()) checkpoint = Math.min(checkpoint, o.seq - 1);
    if (checkpoint === this.#savedCheckpoint || !this.#kv) return;
    await this.#kv.put(CHECKPOINT_KEY, String(checkpoint));
    this.#savedCheckpoint = checkpoint;
  }

  async stop(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#sweeping;
    await this.#messages?.close();
    await this.#loop;
    this.#unfollow?.();
    await this.saveCheckpoint().catch(() => undefined);
  }
}

/**
 * What the janitor needs of a frame: from the frame itself when this process has it already (read by
 * a follower, or appended here), else from the JSON the process's readers share (no validation).
 */
function parseFrame(m: StreamMsg): { paymentId: string; types: string[] } | undefined {
  const known = knownFrame(m);
  if (known !== undefined) return { paymentId: known.paymentId, types: known.events.map((e) => e.type) };
  try {
    const f = jsonOf(m) as { paymentId?: unknown; events?: Array<{ type?: unknown }> };
    if (typeof f.paymentId !== "string" || !Array.isArray(f.events)) return undefined;
    return { paymentId: f.paymentId, types: f.events.map((e) => String(e?.type)) };
  } catch {
    return undefined;
  }
}
