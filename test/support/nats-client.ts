// For the NATS client and worker-check specs: card tokens over HTTP, raw commands published as an
// internal system would (any subject, any bytes, a reply inbox), and what became of them (the reply,
// the dead letter).
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { DeadLetters, type StoredDeadLetter } from "../../streams/dead-letters.ts";
import { topology, type Topology } from "../../streams/topology.ts";
import { NATS_URL } from "./infra.ts";
import type { TestMerchant, TestPlatform } from "./platform.ts";
import { waitFor } from "./wait.ts";

export type CardToken = {
  id: string;
  object: "card_token";
  token: string;
  card: {
    brand: string;
    last4: string;
    bin_country: string | null;
    exp_month: number;
    exp_year: number;
    fingerprint: string;
  };
  expires_at: string;
};

export async function cardToken(
  p: TestPlatform,
  m: TestMerchant,
  number = "4242424242424242",
): Promise<CardToken> {
  const res = await p.api(m).post("/v1/card-tokens", {
    card: { number, exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, cvc: "123" },
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as unknown as CardToken;
}

export type Reply = {
  kind: string;
  rejection?: { code: string; message: string; details?: unknown };
  payment?: { id: string; status: string; merchant_id: string; card: { last4: string; brand: string } };
};

/** Publishes raw commands with a reply inbox under `replyOwner` and collects replies by token. */
export class RawSender {
  readonly topo: Topology;
  readonly dlq: DeadLetters;
  readonly #replies = new Map<string, Reply>();
  #sub: Subscription | undefined;
  #next = 0;
  readonly inbox: string;

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    env: Record<string, string>,
    replyOwner: string,
  ) {
    this.topo = topology(env.SWITCHYARD_PREFIX ?? "", Number(env.SWITCHYARD_PARTITIONS ?? "4"));
    this.dlq = new DeadLetters(jetstream(nc), jsm, this.topo);
    this.inbox = `${this.topo.replyBase}.${replyOwner}.${randomBytes(6).toString("hex")}`;
  }

  static async open(env: Record<string, string>, replyOwner = "m_alpha"): Promise<RawSender> {
    const nc = await connect({ servers: NATS_URL });
    const s = new RawSender(nc, await jetstreamManager(nc), env, replyOwner);
    s.#sub = nc.subscribe(`${s.inbox}.*`, {
      callback: (err, msg) => {
        if (!err) s.#replies.set(msg.subject.slice(s.inbox.length + 1), msg.json<Reply>());
      },
    });
    await nc.flush();
    return s;
  }

  /** Stores `body` (JSON of it, or the bytes as given) on `subject`; its stream sequence and reply token. */
  async publish(
    subject: string,
    body: unknown,
    opts: { replyTo?: string | null } = {},
  ): Promise<{ seq: number; token: string }> {
    const token = String(++this.#next);
    const h = headers();
    if (opts.replyTo !== null) h.set("Sy-Reply-To", opts.replyTo ?? `${this.inbox}.${token}`);
    const data =
      body instanceof Uint8Array
        ? body
        : typeof body === "string"
          ? Buffer.from(body)
          : Buffer.from(JSON.stringify(body));
    const ack = await jetstream(this.nc).publish(subject, data, {
      headers: h,
      msgID: randomBytes(8).toString("hex"),
    });
    return { seq: ack.seq, token };
  }

  reply(token: string, what = "the worker's reply"): Promise<Reply> {
    return waitFor(() => this.#replies.get(token), { timeoutMs: 15_000, what });
  }

  deadLetter(seq: number): Promise<StoredDeadLetter> {
    return waitFor(async () => (await this.dlq.list({ limit: 1000 })).find((d) => d.streamSeq === seq), {
      timeoutMs: 15_000,
      what: `the dead letter of PAY_CMD #${seq}`,
    });
  }

  async close(): Promise<void> {
    this.#sub?.unsubscribe();
    await this.nc.close();
  }
}
