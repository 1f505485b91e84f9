// The gateway's side of PAY_CMD: publish a command (deduplicated by Nats-Msg-Id, so a publish whose
// ack was lost can be retried unchanged) and wait, for a bounded time, for the actor's reply on a
// core-NATS inbox (or in memory, when the worker is in this process). A lost reply costs only a 202:
// the state is always readable from the event store.
// The bus carries frames: the command and its reply are the payment's (actors/payment/core/wire.ts).
import { randomUUID } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { WireHeaders } from "./wire-headers.ts";
import type { Logger } from "../config/log.ts";
import { SpanKind, endSpan, startSpan, tracingEnabled } from "../config/tracing.ts";
import { isConnected } from "./connection.ts";
import { Header, decodeJson, encode } from "./envelopes.ts";
import { commandSubject, replyInbox, type Topology } from "./topology.ts";
import { injectSpan } from "./trace-headers.ts";

export class NatsUnavailableError extends Error {
  override name = "NatsUnavailableError";
}

/**
 * The started buses of this process, by inbox. A worker in the same process (`npm start`, the
 * embedded platform) hands a reply to its bus here instead of publishing it to NATS and reading it
 * back: one NATS message less each way per command, and the server's routing of it. The bytes are
 * the same as on the wire and decoded the same way; a bus of another process is answered over NATS.
 */
const localBuses = new Map<string, CommandBus>();

/**
 * Answers `replyTo` in memory when its inbox belongs to a bus of this process; false when it does not
 * (then the caller publishes it). Called only for a reply the caller may send (replyAllowed).
 */
export function replyInProcess(replyTo: string, data: Uint8Array): boolean {
  const dot = replyTo.lastIndexOf(".");
  const bus = dot > 0 ? localBuses.get(replyTo.slice(0, dot)) : undefined;
  if (bus === undefined) return false;
  bus.answer(replyTo.slice(dot + 1), data);
  return true;
}

/** Where a command goes: its payment, and its merchant (absent only for a PSP notification). */
export type CommandTarget = { paymentId: string; merchantId?: string | undefined };

export class CommandBus {
  readonly #inbox: string;
  readonly #waiters = new Map<string, (reply: unknown) => void>();
  /** Reply tokens: unique within this bus, whose inbox is unique to it. */
  #nextToken = 0;
  #sub: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly topo: Topology,
    private readonly log: Logger,
  ) {
    this.#inbox = replyInbox(topo, undefined, randomUUID().replaceAll("-", ""));
  }

  start(): void {
    this.#sub = this.nc.subscribe(`${this.#inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        this.answer(msg.subject.slice(this.#inbox.length + 1), msg.data);
      },
    });
    localBuses.set(this.#inbox, this);
  }

  /** The reply for `token`, from NATS or from a worker of this process (replyInProcess). */
  answer(token: string, data: Uint8Array): void {
    const waiter = this.#waiters.get(token);
    if (!waiter) return; // the request already gave up waiting
    try {
      waiter(decodeJson(data));
    } catch (err) {
      this.log.error({ err }, "undecodable command reply");
    }
  }

  /**
   * Publish the command and wait up to `waitMs` for the actor's reply; `null` when the wait ran out.
   * Throws when the command could not be stored in JetStream (the caller answers 503).
   */
  async send(
    target: CommandTarget,
    envelope: unknown,
    opts: { waitMs: number; msgId: string; traceparent?: string },
  ): Promise<unknown> {
    return (await this.sendDeduplicated(target, envelope, opts)).reply;
  }

  /**
   * Like send, and says whether JetStream dropped the command as a duplicate of one stored within its
   * window (same message id): then no actor will handle it again, so nothing is waited for.
   */
  async sendDeduplicated(
    target: CommandTarget,
    envelope: unknown,
    opts: { waitMs: number; msgId: string; traceparent?: string },
  ): Promise<{ duplicate: boolean; reply: unknown }> {
    if (!isConnected(this.nc)) throw new NatsUnavailableError("NATS is not connected");
    const token = (++this.#nextToken).toString(36);
    const h = new WireHeaders();
    h.set(Header.replyTo, `${this.#inbox}.${token}`);
    const subject = commandSubject(this.topo, target.merchantId, target.paymentId);
    // Tracing on: the worker's handling is a child of this publish, not of the request directly.
    const span = tracingEnabled()
      ? startSpan(`publish ${this.topo.commandStream}`, SpanKind.PRODUCER, opts.traceparent, {
          "messaging.system": "nats",
          "messaging.destination.name": subject,
        })
      : undefined;
    if (span !== undefined) injectSpan(h, span);
    else if (opts.traceparent) h.set(Header.traceparent, opts.traceparent);
    let timer: NodeJS.Timeout | undefined;
    const replied = new Promise<unknown>((resolve) => {
      this.#waiters.set(token, resolve);
      timer = setTimeout(() => resolve(null), opts.waitMs);
    });
    try {
      let duplicate: boolean;
      try {
        const ack = await this.js.publish(subject, encode(envelope), {
          msgID: opts.msgId,
          headers: h,
          retries: 3,
          timeout: 5_000,
        });
        duplicate = ack.duplicate;
      } catch (err) {
        endSpan(span, err);
        throw err;
      }
      endSpan(span);
      return { duplicate, reply: duplicate ? null : await replied };
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(token);
    }
  }

  async close(): Promise<void> {
    localBuses.delete(this.#inbox);
    if (this.#sub) {
      this.#sub.unsubscribe();
      await this.#sub.closed;
    }
  }
}
