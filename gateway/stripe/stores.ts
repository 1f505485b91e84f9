// The Stripe layer's two JetStream KV buckets (the system of record, as every fact that must survive):
// - `<prefix>_stripe_idem`: Stripe's idempotency, per (merchant, Idempotency-Key) for 24 h (the
//   bucket's max age): the request's keyed fingerprint while it runs, then the first answer's status
//   and exact bytes. Keys are digests: neither the merchant's key nor anything in the body is in clear.
// - `<prefix>_stripe_intents`: what a payment intent holds that its Switchyard payment does not, and
//   the whole intent before it is confirmed (no payment exists yet). Never a card: an intent only ever
//   names a test payment method id; card data is accepted only on a confirming request, sealed into
//   the command like the native API's.
import { createHash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { isWrongLastSequence } from "../../streams/jetstream-errors.ts";
import { openBucket } from "../../streams/kv-open.ts";
import { stripeBucketNames } from "../../streams/topology.ts";

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

const digest = (...parts: string[]) => createHash("sha256").update(parts.join("\u0000")).digest("hex");

export const IdemRecord = z.discriminatedUnion("s", [
  z.object({ s: z.literal("pending"), fp: z.string(), at: z.number() }),
  z.object({ s: z.literal("done"), fp: z.string(), at: z.number(), status: z.number(), body: z.string() }),
]);
export type IdemRecord = z.infer<typeof IdemRecord>;

export const IntentRecord = z.object({
  id: z.string(),
  merchant: z.string(),
  /** The Idempotency-Key the Switchyard payment is created with: `stripe:<intent seed>`. */
  paymentKey: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  capture: z.enum(["automatic", "manual"]),
  payment_method: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  description: z.string().nullable(),
  return_url: z.string().nullable(),
  created: z.number().int(),
  /** Set once a confirm sent the CreatePayment: from then on the payment is the truth. */
  confirmed: z.boolean(),
  canceled_at: z.number().int().nullable(),
});
export type IntentRecord = z.infer<typeof IntentRecord>;

export type Versioned<T> = { value: T; revision: number };

export class StripeStores {
  constructor(
    private readonly idem: KV,
    private readonly intents: KV,
  ) {}

  static async open(js: JetStreamClient, prefix: string, replicas = 1): Promise<StripeStores> {
    const names = stripeBucketNames(prefix);
    const [idem, intents] = await Promise.all([
      openBucket(js, names.idempotency, { history: 1, ttl: IDEMPOTENCY_TTL_MS, replicas }),
      openBucket(js, names.intents, { history: 1, replicas }),
    ]);
    return new StripeStores(idem, intents);
  }

  static idemKey(merchant: string, idempotencyKey: string): string {
    return `k.${digest("merchant", merchant).slice(0, 32)}.${digest("key", merchant, idempotencyKey)}`;
  }

  static intentKey(merchant: string, intentId: string): string {
    return `i.${digest("merchant", merchant).slice(0, 32)}.${intentId}`;
  }

  async getIdem(key: string): Promise<Versioned<IdemRecord> | undefined> {
    return read(this.idem, key, IdemRecord);
  }

  /** The revision of a new record, or undefined when one exists already. */
  async claimIdem(key: string, r: IdemRecord): Promise<number | undefined> {
    return this.idem.create(key, JSON.stringify(r)).catch((err: unknown) => {
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    });
  }

  /** Replace a record at `revision`; undefined when it changed meanwhile. */
  async replaceIdem(key: string, r: IdemRecord, revision: number): Promise<number | undefined> {
    return this.idem.update(key, JSON.stringify(r), revision).catch((err: unknown) => {
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    });
  }

  async releaseIdem(key: string, revision: number): Promise<void> {
    await this.idem.delete(key, { previousSeq: revision }).catch((err: unknown) => {
      if (!isWrongLastSequence(err)) throw err;
    });
  }

  async getIntent(merchant: string, id: string): Promise<Versioned<IntentRecord> | undefined> {
    return read(this.intents, StripeStores.intentKey(merchant, id), IntentRecord);
  }

  /** Writes the record; with `revision`, only over that revision (undefined: it changed meanwhile). */
  async putIntent(r: IntentRecord, revision?: number): Promise<number | undefined> {
    const key = StripeStores.intentKey(r.merchant, r.id);
    const data = JSON.stringify(r);
    if (revision === undefined) return this.intents.put(key, data);
    return this.intents.update(key, data, revision).catch((err: unknown) => {
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    });
  }
}

async function read<T>(kv: KV, key: string, schema: z.ZodType<T>): Promise<Versioned<T> | undefined> {
  const e = await kv.get(key);
  if (e === null || e.operation !== "PUT") return undefined;
  const parsed = schema.safeParse(e.json());
  if (!parsed.success) throw new Error(`unreadable record in the Stripe layer's bucket (${key})`);
  return { value: parsed.data, revision: e.revision };
}
