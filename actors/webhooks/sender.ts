// The sender: takes the deliveries the dispatcher leased to it as it stored them, claims the rest
// when due (actors/webhooks/store.ts claimDue), POSTs each to its endpoint signed as Standard Webhooks
// says (./post.ts), and records the attempt — success, a retry on the schedule, or
// dead after the last try — keeping the endpoint's failing state, its metric and, past the
// configured time, disabling it. One per process, any number of processes: claims are leases.
import type { LookupFunction } from "node:net";
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import type { Sql } from "../../streams/db/client.ts";
import { WebhookPoster } from "./post.ts";
import {
  claimDue,
  failingStates,
  recordFailure,
  recordSuccesses,
  releaseLeases,
  type Attempt,
  type Claimed,
} from "./store.ts";

export type SenderOptions = {
  sql: Sql;
  cardKeys: readonly Buffer[];
  retryScheduleMs: readonly number[];
  disableAfterMs: number;
  timeoutMs: number;
  concurrency: number;
  pollMs: number;
  /**
   * Refuses a URL at send time (SSRF: a host that now resolves to a private address): the reason,
   * or undefined to send (actors/webhooks/url-resolve.ts under the deployment's URL policy).
   */
  checkUrl?: (url: string) => Promise<string | undefined>;
  /**
   * The name lookup of every connection (actors/webhooks/url-resolve.ts guardedLookup): the
   * addresses are judged again on the connection itself, so a name re-pointed inside between the
   * check above and the connect is still refused (DNS rebinding).
   */
  lookup?: LookupFunction;
  metrics: Metrics;
  log: Logger;
  now?: () => Date;
};

const GAUGE_REFRESH_MS = 15_000;
/**
 * The longest an idle sender waits between looks for work nothing woke it for. What this process
 * stores, finishes or schedules wakes it at once (onStored, a finished send, a retry's own timer);
 * the look is for the rest: an operator's redelivery or replay stored by a gateway, and claims left
 * by a sender that died. It starts at pollMs and doubles with each empty look up to this (at the
 * default 500 ms, 2 claims and 1 consumer info a second in an idle process → 0.5 and 0.5).
 */
const IDLE_POLL_MAX_MS = 2_000;
/** Retry times kept for their own wake-up; past this many, the looks above find the rest. */
const RETRY_TIMERS_MAX = 1_000;

export class WebhookSender {
  readonly #poster: WebhookPoster;
  readonly #now: () => Date;
  #inflight = 0;
  /** Room reserved by the dispatcher for deliveries it is leasing to this sender at insert. */
  #reserved = 0;
  /**
   * Deliveries may be waiting for a claim: a run was cut short, the last claim was full, or the
   * dispatcher stored some it did not hand while sends it may be held back behind were in flight
   * (`#watch`). A finished handed send looks again only then.
   */
  #backlog = true;
  /**
   * The sends in flight when the dispatcher last stored deliveries it did not hand: a delivery held
   * back waits for an earlier one of its endpoint and payment, which may be one of these (in this
   * process; another process's sender's end is found by the poll). Each one's end looks again.
   */
  readonly #watch = new Set<number>();
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** The poll's current interval: pollMs after a round that found work, doubled after an empty one. */
  #pollDelay: number;
  /** When retries this sender scheduled come due (ms since the epoch, ascending), and their timer. */
  #retryAts: number[] = [];
  #retryTimer: NodeJS.Timeout | undefined;
  #gaugeTimer: NodeJS.Timeout | undefined;
  /** The sends in flight — a claimed delivery's, a handed run's — by a number of their own. */
  readonly #sends = new Map<number, Promise<unknown>>();
  #nextSend = 0;
  readonly #successes: Array<{
    c: Claimed;
    attempt: Attempt;
    resolve: () => void;
    reject: (err: unknown) => void;
  }> = [];
  #recording: Promise<void> | undefined;

  constructor(private readonly o: SenderOptions) {
    this.#poster = new WebhookPoster(o);
    this.#now = o.now ?? (() => new Date());
    this.#pollDelay = o.pollMs;
  }

  start(): void {
    for (const via of ["handed", "claimed"]) this.o.metrics.webhookAttemptsStarted.inc({ via }, 0);
    this.#poll();
    // The failing gauge from the database, now and then: a success on another worker clears this
    // worker's series too, so `max by (endpoint)` over workers says what the endpoint does.
    this.#gaugeTimer = setInterval(() => {
      failingStates(this.o.sql)
        .then((rows) => {
          // Reset first: a deleted endpoint's series goes (it would otherwise stay at its last value).
          this.o.metrics.webhookEndpointFailing.reset();
          for (const r of rows)
            this.o.metrics.webhookEndpointFailing.set({ endpoint: r.id }, r.failing ? 1 : 0);
        })
        .catch(() => undefined);
    }, GAUGE_REFRESH_MS);
    this.#gaugeTimer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    clearInterval(this.#gaugeTimer);
    await this.#running;
    await Promise.allSettled([...this.#sends.values()]);
    await this.#poster.close();
  }

  /** How long a delivery is leased for: its attempt (the timeout) and recording it. */
  get leaseMs(): number {
    // Short enough that a killed sender's deliveries come back soon (then sent again: at least once).
    return this.o.timeoutMs * 2 + 1_000;
  }

  /** Room for up to `max` deliveries leased to this sender at insert, kept until take or release. */
  reserve(max: number): number {
    if (this.#stopped) return 0;
    const n = Math.max(0, Math.min(max, this.o.concurrency - this.#inflight - this.#reserved));
    this.#reserved += n;
    return n;
  }

  release(n: number): void {
    this.#reserved = Math.max(0, this.#reserved - n);
  }

  /**
   * Deliveries leased to this sender when the dispatcher stored them (committed): sent without a
   * claim, each run (one endpoint and payment) in order, a delivery only after the one before it
   * succeeded. After a failure the rest of its run is given back (unleased) to wait for a claim,
   * which holds it until the failed one succeeds. `reserved` is the room the dispatcher had.
   */
  take(runs: readonly Claimed[][], reserved: number): void {
    this.release(reserved);
    for (const run of runs) {
      this.#inflight += run.length;
      const id = this.#nextSend++;
      const send = this.sendRun(run)
        .catch((err: unknown) =>
          this.o.log.warn(
            { err, delivery: run[0]?.delivery_id },
            "webhook attempt not recorded; its lease runs out",
          ),
        )
        .finally(() => {
          this.#sends.delete(id);
          const watched = this.#watch.delete(id);
          if ((watched || this.#backlog) && this.#inflight <= this.o.concurrency / 2) this.wake();
        });
      this.#sends.set(id, send);
    }
  }

  private async sendRun(run: readonly Claimed[]): Promise<void> {
    let next = 0; // the first delivery of the run not yet tried
    try {
      while (next < run.length && !this.#stopped) {
        const c = run[next]!;
        next += 1;
        this.o.metrics.webhookAttemptsStarted.inc({ via: "handed" });
        // A failure (recorded, retried later) holds the rest back; one not recorded keeps its lease.
        if (!(await this.attempt(c).finally(() => (this.#inflight -= 1)))) break;
      }
    } finally {
      const rest = run.slice(next);
      if (rest.length > 0) {
        this.#inflight -= rest.length;
        this.#backlog = true;
        // Claimable once the one before them succeeds; if this fails too, their leases run out.
        await releaseLeases(
          this.o.sql,
          rest.map((c) => c.delivery_id),
        ).catch(() => undefined);
        this.wake();
      }
    }
  }

  /** Deliveries were stored that no one was handed: look for them now, and again as sends end. */
  stored(): void {
    for (const id of this.#sends.keys()) this.#watch.add(id);
    this.#backlog = true;
    this.wake();
  }

  /** Look for due deliveries now (new ones were stored, or a send finished). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.round()
      .then((found) => {
        this.#pollDelay = found
          ? this.o.pollMs
          : Math.min(Math.max(this.o.pollMs, IDLE_POLL_MAX_MS), this.#pollDelay * 2);
      })
      .catch((err: unknown) => this.o.log.warn({ err }, "webhook sender round failed; next round"))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /** The periodic look (see IDLE_POLL_MAX_MS), re-armed at the interval the last round left. */
  #poll(): void {
    if (this.#stopped) return;
    this.wake();
    this.#timer = setTimeout(() => this.#poll(), this.#pollDelay);
    this.#timer.unref();
  }

  /** Wake at `at` (a retry this sender scheduled), whatever the poll's interval has grown to. */
  #wakeAt(at: number): void {
    if (this.#stopped || this.#retryAts.length >= RETRY_TIMERS_MAX) return;
    const i = this.#retryAts.findIndex((t) => t > at);
    this.#retryAts.splice(i < 0 ? this.#retryAts.length : i, 0, at);
    if (i === 0 || this.#retryAts.length === 1) this.#armRetry();
  }

  #armRetry(): void {
    clearTimeout(this.#retryTimer);
    const next = this.#retryAts[0];
    if (next === undefined || this.#stopped) return;
    this.#retryTimer = setTimeout(
      () => {
        const now = Date.now();
        while (this.#retryAts[0] !== undefined && this.#retryAts[0] <= now) this.#retryAts.shift();
        this.wake();
        this.#armRetry();
      },
      Math.max(0, next - Date.now()),
    );
    this.#retryTimer.unref();
  }

  /** Resolves to whether there was anything to do: deliveries claimed, or sends still in flight. */
  private async round(): Promise<boolean> {
    const room = this.o.concurrency - this.#inflight - this.#reserved;
    if (room <= 0) return true;
    // A delivery held back behind a watched send is claimable once that one has succeeded: until
    // every watched send has ended, an empty claim does not clear the backlog.
    const watching = this.#watch.size > 0;
    const claimed = await claimDue(this.o.sql, { limit: room, now: this.#now(), leaseMs: this.leaseMs });
    this.#backlog = claimed.length === room || watching;
    if (claimed.length > 0) this.o.metrics.webhookAttemptsStarted.inc({ via: "claimed" }, claimed.length);
    for (const c of claimed) {
      this.#inflight += 1;
      const id = this.#nextSend++;
      const send = this.attempt(c)
        .catch((err: unknown) =>
          this.o.log.warn(
            { err, delivery: c.delivery_id },
            "webhook attempt not recorded; its lease runs out",
          ),
        )
        .finally(() => {
          this.#inflight -= 1;
          this.#sends.delete(id);
          this.#watch.delete(id);
          // Claim again once half the room is free: one claim for many sends, not one each.
          if (this.#inflight <= this.o.concurrency / 2) this.wake();
        });
      this.#sends.set(id, send);
    }
    // A full round: there may be more due at once.
    if (claimed.length === room) this.#again = true;
    return claimed.length > 0 || this.#inflight > 0;
  }

  /** One attempt, recorded; true when it succeeded. */
  private async attempt(c: Claimed): Promise<boolean> {
    const started = this.#now();
    const t0 = performance.now();
    const outcome = await this.#poster.post(c, started);
    const attempt: Attempt = {
      at: started.toISOString(),
      latency_ms: Math.round(performance.now() - t0),
      ...outcome,
    };
    const m = this.o.metrics;
    if (attempt.status !== null && attempt.status >= 200 && attempt.status < 300) {
      if (c.origin === "stream")
        m.webhookDeliveryLag.observe(Math.max(0, (Date.now() - c.appended_at.getTime()) / 1000));
      await this.succeeded(c, attempt);
      return true;
    }
    const tries = c.attempts + 1;
    const delay = this.o.retryScheduleMs[tries - 1];
    const now = this.#now();
    const nextAt = delay === undefined ? undefined : new Date(now.getTime() + delay);
    const r = await recordFailure(this.o.sql, c, attempt, {
      nextAt,
      now,
      disableAfterMs: this.o.disableAfterMs,
    });
    // Due again at nextAt: looked for then, not at the next poll (which may be seconds away).
    if (nextAt !== undefined) this.#wakeAt(nextAt.getTime());
    m.webhookDeliveries.inc({ outcome: nextAt === undefined ? "dead" : "failed" });
    m.webhookEndpointFailing.set({ endpoint: c.endpoint_id }, 1);
    const what = attempt.status !== null ? `HTTP ${attempt.status}` : attempt.error;
    if (nextAt === undefined)
      this.o.log.warn(
        { delivery: c.delivery_id, event: c.event_id, endpoint: c.endpoint_id, tries, last: what },
        "webhook delivery dead after its last try (kept; redeliver it over the API)",
      );
    if (r.disabled)
      this.o.log.warn(
        { endpoint: c.endpoint_id, merchantId: c.merchant_id, failingSince: r.failingSince.toISOString() },
        "webhook endpoint disabled: it failed every delivery for longer than SWITCHYARD_WEBHOOK_DISABLE_AFTER",
      );
    return false;
  }

  /**
   * Successes are recorded together: what finished while the last batch was being written goes in
   * the next one statement. Resolves when this one is recorded (the next delivery of the same
   * endpoint and payment becomes claimable then).
   */
  private succeeded(c: Claimed, attempt: Attempt): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#successes.push({ c, attempt, resolve, reject });
      this.#recording ??= this.record().finally(() => (this.#recording = undefined));
    });
  }

  private async record(): Promise<void> {
    while (this.#successes.length > 0) {
      const batch = this.#successes.splice(0, 500);
      try {
        await recordSuccesses(
          this.o.sql,
          batch.map((b) => ({ c: b.c, attempt: b.attempt })),
        );
      } catch (err) {
        for (const b of batch) b.reject(err);
        continue;
      }
      for (const b of batch) {
        this.o.metrics.webhookDeliveries.inc({ outcome: "succeeded" });
        this.o.metrics.webhookEndpointFailing.set({ endpoint: b.c.endpoint_id }, 0);
        b.resolve();
      }
    }
  }
}
