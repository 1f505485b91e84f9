// The ops board: each worker's latest WorkerReport (PSP health, shadow evaluation) in a JetStream KV
// bucket (`<prefix>_ops`) whose entries expire, so a worker that died vanishes from the board within
// the TTL. Workers publish; the gateway's operator endpoints read and merge.
import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV } from "@nats-io/kv";
import { openBucket } from "./kv-open.ts";
import type { WorkerReport } from "../actors/policy/core/reports.ts";
import { kvKeys } from "./kv-reads.ts";
import type { Logger } from "../config/log.ts";

/** `<prefix>_ops`, or `ops` without a prefix. */
export function opsBucketName(prefix: string): string {
  return prefix ? `${prefix}_ops` : "ops";
}

/** A worker id as a KV key token: anything outside [-\w] becomes `_`. */
export function workerKey(workerId: string): string {
  return `worker.${workerId.replace(/[^-\w]/g, "_")}`;
}

export type OpsBoardOptions = { ttlMs?: number; replicas?: number; log?: Logger };

export type Publisher = {
  /** Publish now, or as soon as `minGapMs` has passed since the last publish. */
  poke(): void;
  /** Stops publishing and removes this worker's report from the board. */
  stop(): Promise<void>;
};

/** What a publisher last put: the report without its time, and when. */
type Published = { body: string | undefined; at: number };

export class OpsBoard {
  readonly bucket: string;
  readonly ttlMs: number;
  #kv: KV | undefined;

  constructor(
    private readonly js: JetStreamClient,
    prefix: string,
    private readonly opts: OpsBoardOptions = {},
  ) {
    this.bucket = opsBucketName(prefix);
    this.ttlMs = opts.ttlMs ?? 60_000;
  }

  /** Creates the bucket if needed (idempotent); returns the board. */
  async ensure(): Promise<this> {
    this.#kv = await openBucket(this.js, this.bucket, {
      history: 1,
      ttl: this.ttlMs,
      replicas: this.opts.replicas ?? 1,
    });
    return this;
  }

  async destroy(): Promise<void> {
    await this.#bucket().destroy();
  }

  async publish(report: WorkerReport): Promise<void> {
    await this.#bucket().put(workerKey(report.workerId), JSON.stringify(report));
  }

  async remove(workerId: string): Promise<void> {
    await this.#bucket().delete(workerKey(workerId));
  }

  /** Every live worker's latest report, by worker id (read without KV iterators: kv-reads.ts). */
  async read(): Promise<WorkerReport[]> {
    const kv = this.#bucket();
    const reports: WorkerReport[] = [];
    for (const key of await kvKeys(this.js, this.bucket, "worker.>")) {
      const entry = await kv.get(key);
      if (entry?.operation === "PUT") reports.push(entry.json<WorkerReport>());
    }
    return reports.sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  /**
   * Publishes `produce()` every `everyMs`, and on `poke()` right away unless the last publish was
   * less than `minGapMs` ago (then as soon as it is not). Publishes never overlap and never throw
   * into the caller: a failure is logged and the next tick tries again.
   */
  startPublishing(
    workerId: string,
    produce: () => WorkerReport,
    everyMs: number,
    opts: { minGapMs?: number } = {},
  ): Publisher {
    const minGapMs = Math.min(opts.minGapMs ?? 1_000, everyMs);
    let lastAt = -Infinity;
    let timer: NodeJS.Timeout | undefined;
    let dueAt = Infinity;
    let running: Promise<void> | undefined;
    let again = false;
    let stopped = false;
    const last: Published = { body: undefined, at: -Infinity };

    const schedule = (at: number) => {
      if (stopped || at >= dueAt) return;
      clearTimeout(timer);
      dueAt = at;
      timer = setTimeout(tick, Math.max(0, at - Date.now()));
      timer.unref();
    };
    const tick = () => {
      dueAt = Infinity;
      timer = undefined;
      if (running) {
        again = true;
        return;
      }
      lastAt = Date.now();
      running = this.#publishSafely(produce, last).finally(() => {
        running = undefined;
        if (again) {
          again = false;
          schedule(lastAt + minGapMs);
        } else schedule(lastAt + everyMs);
      });
    };

    schedule(Date.now());
    return {
      poke: () => schedule(Math.max(Date.now(), lastAt + minGapMs)),
      stop: async () => {
        stopped = true;
        clearTimeout(timer);
        await running;
        await this.remove(workerId).catch((err: unknown) =>
          this.opts.log?.warn({ err, workerId }, "could not remove the worker's ops report"),
        );
      },
    };
  }

  /**
   * Puts the report unless it says what the last one put said and that one is younger than a
   * quarter of the TTL: an idle worker's report does not change, and re-putting it every `everyMs`
   * (2 s) was a KV write for nothing; it is still refreshed well before it would expire.
   */
  async #publishSafely(produce: () => WorkerReport, last: Published): Promise<void> {
    try {
      const report = produce();
      const body = JSON.stringify({ ...report, at: undefined });
      if (body === last.body && Date.now() - last.at < this.ttlMs / 4) return;
      await this.publish(report);
      last.body = body;
      last.at = Date.now();
    } catch (err) {
      this.opts.log?.warn({ err }, "ops report not published; trying again on the next tick");
    }
  }

  #bucket(): KV {
    if (!this.#kv) throw new Error("OpsBoard used before ensure()");
    return this.#kv;
  }
}
