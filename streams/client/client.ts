// SwitchyardClient: how an internal system acts on payments over NATS, as the gateway does over HTTP
// (docs/nats-client.md). It publishes commands to PAY_CMD on its merchant's subjects (the server's
// permissions hold it to them), with a message id derived from the idempotency key so a retried
// publish is stored once, a W3C traceparent, and a reply inbox under its merchant; waits a bounded
// time for the worker's answer; and reads the merchant events feed (PAY_OUT) of a payment.
import { randomBytes } from "node:crypto";
import { DeliverPolicy, jetstream, type ConsumerMessages, type JetStreamClient } from "@nats-io/jetstream";
import {
  connect,
  createInbox,
  credsAuthenticator,
  headers,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import { ID_PATTERN } from "../../actors/payment/core/contract.ts";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import type { CommandReply } from "../../actors/payment/core/wire.ts";
import { isStreamNotFound } from "../jetstream-errors.ts";
import { commandSubject, merchantEventSubject, replyInbox, topology, type Topology } from "../topology.ts";
import {
  buildCreate,
  buildFollowUp,
  type Built,
  type CreatePaymentInput,
  type FollowUpInput,
  type FollowUpKind,
} from "./commands.ts";
import { SwitchyardError } from "./errors.ts";

export type ClientOptions = {
  /** NATS server URLs. */
  servers: string | string[];
  user?: string;
  password?: string;
  /** The contents of a `.creds` file (JWT and nkey seed), instead of user/password. */
  creds?: string;
  /** The deployment's SWITCHYARD_PREFIX ("" for none). */
  prefix: string;
  /** The deployment's SWITCHYARD_PARTITIONS: it decides the subject of every payment. */
  partitions: number;
  /** The merchant this client acts for (its NATS user may publish only that merchant's subjects). */
  merchantId: string;
  /** Where replies come: `<prefix>.pay.reply.<merchantId>.<unique>` (default a random unique part). */
  inboxPrefix?: string;
  /**
   * The NATS connection's own inbox prefix (JetStream API answers, publish acks). Under the
   * permissions of scripts/nats-auth.ts an internal user may subscribe only `_INBOX_<user>.>`, so
   * it connects with `_INBOX_<user>`; unset, the NATS default `_INBOX`.
   */
  natsInboxPrefix?: string;
  /** How long a call waits for the worker's answer before returning { status: "pending" } (10 s). */
  replyTimeoutMs?: number;
};

export type CallOptions = { traceparent?: string; timeoutMs?: number };

/** What a command came to: as the HTTP API answers 200/201 (settled) or 202 (pending). */
export type CommandResult =
  /** Done, and the payment at rest. */
  | { status: "settled"; paymentId: string; payment: PaymentView }
  /** Accepted, waiting on a PSP; `payment: null` when no answer came within the wait (stored, queued). */
  | { status: "pending"; paymentId: string; payment: PaymentView | null };

export type EventsOptions = {
  /** Keep waiting for new events (default), or stop once those stored so far are read. */
  follow?: boolean;
};

/** A merchant event as PAY_OUT holds it: the merchant webhook payload (actors/webhooks/). */
export type MerchantEvent = { id: string; type: string; [field: string]: unknown };

const DEFAULT_REPLY_TIMEOUT_MS = 10_000;

export class SwitchyardClient {
  readonly #topo: Topology;
  readonly #inbox: string;
  readonly #waiters = new Map<string, (reply: CommandReply) => void>();
  #sub: Subscription | undefined;
  #nextToken = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly opts: Omit<ClientOptions, "servers" | "user" | "password" | "creds">,
    private readonly owned: boolean,
  ) {
    this.#topo = topology(opts.prefix, opts.partitions);
    this.#inbox =
      opts.inboxPrefix ?? replyInbox(this.#topo, opts.merchantId, randomBytes(12).toString("hex"));
  }

  /** Connects to NATS and starts listening for replies. */
  static async connect(o: ClientOptions): Promise<SwitchyardClient> {
    checkOptions(o);
    const nc = await connect({
      servers: o.servers,
      name: `switchyard-client:${o.merchantId}`,
      ...(o.natsInboxPrefix !== undefined && { inboxPrefix: o.natsInboxPrefix }),
      ...(o.creds !== undefined
        ? { authenticator: credsAuthenticator(new TextEncoder().encode(o.creds)) }
        : {
            ...(o.user !== undefined && { user: o.user }),
            ...(o.password !== undefined && { pass: o.password }),
          }),
    });
    return SwitchyardClient.#start(nc, o, true);
  }

  /** Over a connection the caller owns (and closes). */
  static async attach(
    nc: NatsConnection,
    o: Omit<ClientOptions, "servers" | "user" | "password" | "creds">,
  ): Promise<SwitchyardClient> {
    checkOptions(o);
    return SwitchyardClient.#start(nc, o, false);
  }

  static async #start(
    nc: NatsConnection,
    o: Omit<ClientOptions, "servers" | "user" | "password" | "creds">,
    owned: boolean,
  ): Promise<SwitchyardClient> {
    const {
      servers: _s,
      user: _u,
      password: _p,
      creds: _c,
      natsInboxPrefix: _n,
      ...rest
    } = o as ClientOptions;
    const client = new SwitchyardClient(nc, jetstream(nc), rest, owned);
    client.#listen();
    // The subscription is registered with the server before the first command can be answered.
    await nc.flush();
    return client;
  }

  get merchantId(): string {
    return this.opts.merchantId;
  }

  /** The payment a create with this idempotency key makes (the same id as over HTTP with that key). */
  paymentIdFor(idempotencyKey: string): string {
    return paymentIdFor(this.opts.merchantId, idempotencyKey);
  }

  async createPayment(input: CreatePaymentInput, call: CallOptions = {}): Promise<CommandResult> {
    return this.#send(buildCreate(this.opts.merchantId, input, new Date()), call);
  }

  async capture(paymentId: string, input: FollowUpInput, call: CallOptions = {}): Promise<CommandResult> {
    return this.#followUp(paymentId, "capture", input, call);
  }

  async refund(paymentId: string, input: FollowUpInput, call: CallOptions = {}): Promise<CommandResult> {
    return this.#followUp(paymentId, "refund", input, call);
  }

  async cancel(
    paymentId: string,
    input: Omit<FollowUpInput, "amount">,
    call: CallOptions = {},
  ): Promise<CommandResult> {
    return this.#followUp(paymentId, "cancel", input, call);
  }

  #followUp(paymentId: string, kind: FollowUpKind, input: FollowUpInput, call: CallOptions) {
    return this.#send(buildFollowUp(this.opts.merchantId, paymentId, kind, input, new Date()), call);
  }

  /**
   * The payment's merchant events (PAY_OUT), oldest first, through an ordered push consumer filtered
   * on the payment's subject and delivered to this connection's own inbox. With `follow: false`,
   * ends once the events stored so far are read. SwitchyardError `events_unavailable` when the
   * deployment has no PAY_OUT stream.
   *
   * Push, not pull: a pull consumer's messages go to whoever asks `CONSUMER.MSG.NEXT` with its name,
   * and nats.js's ordered pull consumer first asks `STREAM.INFO`, whose `subjects_filter` lists every
   * merchant's payment ids; no permission can narrow either. A push consumer delivers only to the
   * subject it was created with (this connection's inbox, which no other user may subscribe), and
   * is created with the filter in the request's subject (the server refuses any other filter), so
   * an internal system's user needs neither (scripts/nats-auth.ts). It is recreated from where it
   * was after two missed heartbeats (the library's, 30 s apart): a node that died under it costs
   * about a minute, not a silent stop.
   */
  async *events(paymentId: string, o: EventsOptions = {}): AsyncGenerator<MerchantEvent> {
    if (!ID_PATTERN.test(paymentId))
      throw new SwitchyardError("validation_error", "paymentId: not a payment id");
    const subject = merchantEventSubject(this.#topo, this.opts.merchantId, paymentId);
    const stream = this.#topo.merchantEventStream;
    let messages: ConsumerMessages;
    let stored: number;
    try {
      const consumer = await this.js.consumers.getPushConsumer(stream, {
        // One subject as a string: nats-server 2.9 takes filter_subject only (an array needs 2.10).
        filter_subjects: subject,
        deliver_policy: DeliverPolicy.All,
        deliver_prefix: createInbox(inboxPrefixOf(this.nc)),
      });
      // How many are stored: the consumer's creation answered it (no request of our own).
      stored = (await consumer.info(true)).num_pending;
      messages = await consumer.consume();
    } catch (err) {
      if (isStreamNotFound(err))
        throw new SwitchyardError(
          "events_unavailable",
          `no ${stream} stream on this deployment`,
          {},
          { cause: err },
        );
      throw new SwitchyardError("service_unavailable", "the events feed cannot be read", {}, { cause: err });
    }
    try {
      if (o.follow === false && stored === 0) return;
      for await (const m of messages) {
        yield m.json<MerchantEvent>();
        if (o.follow === false && m.info.pending === 0) break;
      }
    } finally {
      messages.stop();
    }
  }

  /** Stops listening for replies; closes the connection if connect() opened it. */
  async close(): Promise<void> {
    this.#sub?.unsubscribe();
    if (this.owned) await this.nc.drain();
  }

  #listen(): void {
    this.#sub = this.nc.subscribe(`${this.#inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const waiter = this.#waiters.get(msg.subject.slice(this.#inbox.length + 1));
        if (!waiter) return; // the call already gave up waiting
        try {
          waiter(msg.json<CommandReply>());
        } catch {
          // Not JSON: not a reply of ours. The call's wait runs out and says pending.
        }
      },
    });
  }

  async #send(b: Built, call: CallOptions): Promise<CommandResult> {
    const subject = commandSubject(this.#topo, this.opts.merchantId, b.paymentId);
    const token = (++this.#nextToken).toString(36);
    const h = headers();
    h.set("Sy-Reply-To", `${this.#inbox}.${token}`);
    h.set("traceparent", call.traceparent ?? newTraceparent());
    const waitMs = call.timeoutMs ?? this.opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const replied = new Promise<CommandReply | null>((resolve) => {
      this.#waiters.set(token, resolve);
      timer = setTimeout(() => resolve(null), waitMs);
    });
    try {
      const data = new TextEncoder().encode(JSON.stringify(b.envelope));
      let ack = await this.#publish(subject, data, b.msgId, h);
      // Stored before, under this request's message id (an earlier call with the same key, within
      // the stream's two-minute window): that one's answer went to its caller. Sent again under a
      // fresh id for an answer here; the payment repeats its first result (idempotency is the
      // payment's), so nothing happens twice.
      if (ack.duplicate)
        ack = await this.#publish(subject, data, `${b.msgId}:${randomBytes(6).toString("hex")}`, h);
      return resultOf(b.paymentId, await replied);
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(token);
    }
  }

  async #publish(subject: string, data: Uint8Array, msgID: string, h: ReturnType<typeof headers>) {
    try {
      return await this.js.publish(subject, data, { msgID, headers: h, retries: 3, timeout: 5_000 });
    } catch (err) {
      throw new SwitchyardError(
        "service_unavailable",
        "the command could not be stored (NATS unreachable, no permission for this subject, or no stream); retry with the same idempotency key",
        { subject },
        { cause: err },
      );
    }
  }
}

function resultOf(paymentId: string, reply: CommandReply | null): CommandResult {
  if (reply === null) return { status: "pending", paymentId, payment: null };
  switch (reply.kind) {
    case "settled":
      return { status: "settled", paymentId, payment: reply.payment };
    case "pending":
      return { status: "pending", paymentId, payment: reply.payment };
    case "rejected":
      throw new SwitchyardError(reply.rejection.code, reply.rejection.message, reply.rejection.details ?? {});
    default: {
      const never: never = reply;
      return never;
    }
  }
}

function checkOptions(o: Partial<ClientOptions>): void {
  const bad = (what: string) => new SwitchyardError("validation_error", what);
  if (typeof o.merchantId !== "string" || !ID_PATTERN.test(o.merchantId))
    throw bad("merchantId: 1 to 64 of A-Z a-z 0-9 _ -");
  if (typeof o.prefix !== "string" || !/^[A-Za-z0-9_-]{0,64}$/.test(o.prefix))
    throw bad("prefix: the deployment's SWITCHYARD_PREFIX (A-Z a-z 0-9 _ -)");
  if (
    typeof o.partitions !== "number" ||
    !Number.isInteger(o.partitions) ||
    o.partitions < 1 ||
    o.partitions > 4096
  )
    throw bad("partitions: the deployment's SWITCHYARD_PARTITIONS (an integer, 1 to 4096)");
  if (o.inboxPrefix !== undefined) {
    const mine = `${topology(o.prefix, o.partitions).replyBase}.${o.merchantId}.`;
    if (
      !o.inboxPrefix.startsWith(mine) ||
      !/^[A-Za-z0-9_.-]+$/.test(o.inboxPrefix) ||
      o.inboxPrefix.endsWith(".")
    )
      throw bad(`inboxPrefix: must be under ${mine} (the worker answers nowhere else)`);
  }
  if (
    o.natsInboxPrefix !== undefined &&
    (typeof o.natsInboxPrefix !== "string" ||
      !/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/.test(o.natsInboxPrefix) ||
      o.natsInboxPrefix.length > 128)
  )
    throw bad("natsInboxPrefix: subject tokens of A-Z a-z 0-9 _ - (e.g. _INBOX_<user>)");
  if (o.replyTimeoutMs !== undefined && (!Number.isInteger(o.replyTimeoutMs) || o.replyTimeoutMs < 0))
    throw bad("replyTimeoutMs: a non-negative integer");
}

/** A fresh W3C traceparent (version 00, sampled). */
export function newTraceparent(): string {
  return `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
}

/**
 * The connection's own inbox prefix (`_INBOX_<user>` for an internal system), where its push
 * consumers deliver. nats.js keeps it in the connection's options, which its types do not show; the
 * library's own ordered push consumer reads it there when it picks a new deliver subject.
 */
function inboxPrefixOf(nc: NatsConnection): string | undefined {
  return (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
}
