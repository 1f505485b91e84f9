// The expiry of abandoned 3-D Secure challenges. A payment the PSP left in `requires_action` waits on
// its shopper; one who never comes back would leave it there, with an authorization held at the PSP,
// for ever. Every sweep reads the payments read model for those untouched longer than the expiry and
// sends each an ExpirePayment command: the decider expires it (PaymentExpired) and voids its charge
// (operation `expiry`), or does nothing when the challenge completed meanwhile — the actor takes one
// command at a time, so an expiry and a completion never both happen.
//
// Every worker sweeps; the command's message id is the payment's, so the sends of several workers
// (and of sweeps repeated while the read model catches up) collapse into one within JetStream's
// duplicate window, and the decider ignores any later one. The actor's reply says whether this send
// expired the payment: that is what is counted and logged.
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import type { CommandBus } from "../streams/command-bus.ts";
import type { Sql } from "../streams/db/client.ts";
import type { CommandEnvelope, CommandReply } from "./payment/core/wire.ts";

export type ChallengeExpiryDeps = {
  bus: CommandBus;
  sql: Sql;
  metrics: Metrics;
  log: Logger;
  now: () => Date;
  expiryMs: number;
  everyMs: number;
};

/** Payments expired per sweep at most (the next sweep takes the rest, oldest first). */
const SWEEP_LIMIT = 500;
/** Commands in flight at once: each waits for the actor's reply (a void at the PSP). */
const IN_FLIGHT = 8;
/** How long a send waits for the actor's reply before it stops counting on one. */
const REPLY_WAIT_MS = 10_000;

export class ChallengeExpiry {
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<unknown> | undefined;

  constructor(private readonly d: ChallengeExpiryDeps) {}

  start(): void {
    this.#timer = setInterval(() => {
      this.#sweeping ??= this.sweep()
        .catch((err: unknown) => this.d.log.warn({ err }, "challenge expiry sweep failed; next round"))
        .finally(() => (this.#sweeping = undefined));
    }, this.d.everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sweeping;
  }

  /** Send ExpirePayment to every challenge abandoned past the expiry; resolves to how many expired. */
  async sweep(): Promise<number> {
    const now = this.d.now();
    const cutoff = new Date(now.getTime() - this.d.expiryMs).toISOString();
    // Index 007_requires_action.sql: the few payments waiting on a challenge, oldest first.
    const rows = await this.d.sql<{ id: string; merchant_id: string; updated_at: Date }[]>`
      select id, merchant_id, updated_at from payments
      where status = 'requires_action' and updated_at <= ${cutoff}
      order by updated_at limit ${SWEEP_LIMIT}`;
    let expired = 0;
    for (let i = 0; i < rows.length; i += IN_FLIGHT) {
      const results = await Promise.all(rows.slice(i, i + IN_FLIGHT).map((r) => this.expire(r, now)));
      expired += results.filter(Boolean).length;
    }
    return expired;
  }

  private async expire(
    r: { id: string; merchant_id: string; updated_at: Date },
    now: Date,
  ): Promise<boolean> {
    const envelope: CommandEnvelope = {
      v: 1,
      command: { type: "ExpirePayment", paymentId: r.id, merchantId: r.merchant_id, at: now.toISOString() },
    };
    // A payment expires once: its id alone deduplicates every worker's sends.
    const reply = (await this.d.bus.send(envelope.command, envelope, {
      waitMs: REPLY_WAIT_MS,
      msgId: `expire:${r.id}`,
    })) as CommandReply | null;
    const waitedS = Math.round((now.getTime() - r.updated_at.getTime()) / 1000);
    if (reply === null) {
      // Another worker's send (deduplicated: no reply comes to this one), or a busy actor.
      this.d.log.debug({ paymentId: r.id }, "challenge expiry sent; no reply here");
      return false;
    }
    if (reply.kind === "rejected" || reply.payment.status !== "expired") {
      this.d.log.info(
        { paymentId: r.id, status: reply.kind === "rejected" ? reply.rejection.code : reply.payment.status },
        "challenge expiry: payment moved on before it; left as it is",
      );
      return false;
    }
    this.d.metrics.paymentsExpired.inc();
    this.d.log.info(
      { paymentId: r.id, merchantId: r.merchant_id, waitedS, expiryS: this.d.expiryMs / 1000 },
      "payment expired: 3-D Secure challenge abandoned; its authorization voided at the PSP",
    );
    return true;
  }
}
