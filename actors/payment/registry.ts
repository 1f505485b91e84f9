// Which payment actors are live in this process. Every message to a payment goes through here, so
// passivation is race-free: an actor is stopped only when no message is in flight to it, and it
// leaves the map first, so nothing is ever sent to a stopped actor. A payment at rest with nothing
// open leaves memory as soon as its reply is out (its next command reloads it: one or two direct
// gets); one still waiting on something stays until it has been idle for passivateAfterMs.
import type { ActorRef, ActorSystem } from "../nact.ts";
import { ask, spawnActor, stopActor } from "../nact.ts";
import type { PaymentActorDeps, PaymentActorState, PaymentMsg, PaymentOutcome } from "./actor.ts";
import { paymentBehaviour } from "./actor.ts";

type Entry = {
  ref: ActorRef<{ msg: PaymentMsg; reply: PaymentOutcome }>;
  inFlight: number;
  idleSince: number;
};

export class PaymentRegistry {
  readonly #live = new Map<string, Entry>();
  readonly #sweeper: NodeJS.Timeout;
  // nact names must be unique among live children: a payment re-activated while its previous
  // actor is still stopping gets a fresh name, so stopping the old one cannot unlink the new one.
  #incarnation = 0;

  constructor(
    private readonly system: ActorSystem,
    private readonly deps: PaymentActorDeps,
    private readonly opts: { passivateAfterMs: number; askTimeoutMs: number },
  ) {
    this.#sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(opts.passivateAfterMs, 5_000)));
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#live.size;
  }

  async send(paymentId: string, msg: PaymentMsg): Promise<PaymentOutcome> {
    const entry = this.#live.get(paymentId) ?? this.spawn(paymentId);
    entry.inFlight++;
    let outcome: PaymentOutcome | undefined;
    try {
      outcome = await ask(entry.ref, msg, this.opts.askTimeoutMs);
      return outcome;
    } finally {
      entry.inFlight--;
      entry.idleSince = Date.now();
      if (outcome?.atRest && entry.inFlight === 0) this.passivate(paymentId, entry);
    }
  }

  private spawn(paymentId: string): Entry {
    const initial: PaymentActorState = { loaded: undefined, sinceSnapshot: 0 };
    const ref = spawnActor(
      this.system,
      `${paymentId}.${++this.#incarnation}`,
      initial,
      paymentBehaviour(paymentId, this.deps),
      (err) => this.deps.log.error({ err, paymentId }, "payment actor crashed; state reset"),
    );
    const entry: Entry = { ref, inFlight: 0, idleSince: Date.now() };
    this.#live.set(paymentId, entry);
    this.deps.metrics.liveActors.set(this.#live.size);
    return entry;
  }

  private passivate(paymentId: string, entry: Entry): void {
    if (this.#live.get(paymentId) !== entry) return;
    this.#live.delete(paymentId);
    stopActor(entry.ref);
    this.deps.metrics.liveActors.set(this.#live.size);
  }

  /** Stop actors idle for longer than passivateAfterMs (all idle ones with `all`). */
  sweep(all = false): void {
    const cutoff = Date.now() - this.opts.passivateAfterMs;
    for (const [id, e] of [...this.#live])
      if (e.inFlight === 0 && (all || e.idleSince <= cutoff)) this.passivate(id, e);
  }

  /**
   * Stop the idle actors of the payments `drop` names (a partition this worker gave up): if the
   * partition comes back, its payments are loaded afresh rather than from what this worker knew.
   */
  passivateIdle(drop: (paymentId: string) => boolean): void {
    for (const [id, e] of [...this.#live]) if (e.inFlight === 0 && drop(id)) this.passivate(id, e);
  }

  close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.sweep(true);
    return Promise.resolve();
  }
}
