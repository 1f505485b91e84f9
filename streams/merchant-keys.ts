// The merchants and their API keys, in one JetStream KV bucket (`<prefix>_merchants`; records in
// merchant-records.ts), and the live index every gateway authenticates from: a KV watch keeps a map
// from key digest to key record current, so a key created or revoked on one gateway applies on all
// of them within the watch's delivery time (milliseconds), with no restart. A key is shown once,
// when created; the bucket holds only its sha256 digest and its first characters.
import { randomBytes } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV, type KvEntry } from "@nats-io/kv";
import { openBucket } from "./kv-open.ts";
import { hashApiKey } from "../config/secrets.ts";
import type { Logger } from "../config/log.ts";
import { isWrongLastSequence } from "./jetstream-errors.ts";
import { kvKeys } from "./kv-reads.ts";
import {
  KEY_BYTES,
  KEY_PREFIX_LENGTH,
  KEY_SCHEME,
  SEEDED_KEY_SCOPES,
  type Scope,
} from "../actors/merchants/core/keys.ts";
import { KeyRecord, keyKey, MerchantRecord, merchantKey } from "./merchant-records.ts";

export { KeyRecord, MerchantRecord } from "./merchant-records.ts";

/** `<prefix>_merchants`, or `merchants` without a prefix (the naming of streams/topology.ts). */
export function merchantBucketName(prefix: string): string {
  return prefix ? `${prefix}_merchants` : "merchants";
}

export const MerchantKeyStoreErrorCode = {
  merchantExists: "merchant_exists",
  merchantNotFound: "merchant_not_found",
  keyNotFound: "key_not_found",
} as const;
export type MerchantKeyStoreErrorCode =
  (typeof MerchantKeyStoreErrorCode)[keyof typeof MerchantKeyStoreErrorCode];

export class MerchantKeyStoreError extends Error {
  override name = "MerchantKeyStoreError";
  constructor(
    readonly code: MerchantKeyStoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A key known before the bucket existed (SWITCHYARD_BOOTSTRAP_KEYS, the demo merchant): its digest only. */
export type SeedKey = { merchantId: string; keyHash: Buffer; prefix: string };

export type MerchantKeyStoreOptions = { replicas?: number; log?: Logger; loadTimeoutMs?: number };

export class MerchantKeyStore {
  readonly bucket: string;
  #kv: KV | undefined;
  /** Live index: key digest (hex) → key record, revoked ones included (they answer "revoked"). */
  readonly #byHash = new Map<string, KeyRecord>();
  readonly #revisions = new Map<string, number>();
  #stop: (() => void) | undefined;

  constructor(
    private readonly js: JetStreamClient,
    prefix: string,
    private readonly opts: MerchantKeyStoreOptions = {},
  ) {
    this.bucket = merchantBucketName(prefix);
  }

  /** Creates the bucket if needed (idempotent, also when two processes race); returns the store. */
  async ensure(): Promise<this> {
    this.#kv = await openBucket(this.js, this.bucket, { history: 5, replicas: this.opts.replicas ?? 1 });
    return this;
  }

  async destroy(): Promise<void> {
    this.close();
    await this.#bucket().destroy();
  }

  /**
   * Seeds keys known from configuration, each once: the merchant and the key are written
   * create-only, under a key id derived from the digest, so gateways starting together write one
   * record, and a seeded key that was revoked since stays revoked. Seeded keys get the scopes
   * actors/merchants/core/keys.ts gives them (every one).
   */
  async seed(keys: readonly SeedKey[], by = "bootstrap"): Promise<number> {
    const kv = this.#bucket();
    const at = new Date().toISOString();
    let created = 0;
    for (const k of keys) {
      const merchant: MerchantRecord = {
        id: k.merchantId,
        name: k.merchantId,
        created_at: at,
        created_by: by,
      };
      await createOnly(kv, merchantKey(k.merchantId), merchant);
      const hash = k.keyHash.toString("hex");
      const record: KeyRecord = {
        key_id: `key_${hashApiKey(`switchyard-seed:${hash}`).toString("hex").slice(0, 16)}`,
        merchant_id: k.merchantId,
        hash,
        prefix: k.prefix.slice(0, KEY_PREFIX_LENGTH),
        scopes: [...SEEDED_KEY_SCOPES],
        expires_at: null,
        created_at: at,
        created_by: by,
        revoked_at: null,
      };
      const revision = await createOnly(kv, keyKey(record.key_id), record);
      if (revision !== undefined) {
        this.#apply(record, revision);
        created++;
      }
    }
    return created;
  }

  /**
   * Loads every key into the index and keeps it current from then on. Resolves once the bucket's
   * content as of the call is in (or rejects after `loadTimeoutMs`).
   */
  async watch(): Promise<void> {
    const kv = this.#bucket();
    const lastSeq = (await kv.status()).streamInfo.state.last_seq;
    const iter = await kv.watch({ key: ">" });
    this.#stop = () => iter.stop();
    let loaded!: () => void;
    const ready = new Promise<void>((resolve) => (loaded = resolve));
    if (lastSeq === 0) loaded();
    void (async () => {
      for await (const entry of iter) {
        try {
          this.#onEntry(entry);
        } catch (err) {
          this.opts.log?.error({ err, key: entry.key }, "merchant key change could not be applied");
        }
        if (entry.revision >= lastSeq) loaded();
      }
    })().catch((err: unknown) => this.opts.log?.error({ err }, "merchant key watch ended"));
    const timeoutMs = this.opts.loadTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`merchant keys not loaded within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#stop?.();
    this.#stop = undefined;
  }

  /** The key record whose digest this is, from the live index (revoked and expired ones included). */
  lookup(keyHash: Buffer): KeyRecord | undefined {
    return this.#byHash.get(keyHash.toString("hex"));
  }

  async createMerchant(m: { id: string; name: string; by: string }): Promise<MerchantRecord> {
    const record: MerchantRecord = {
      id: m.id,
      name: m.name,
      created_at: new Date().toISOString(),
      created_by: m.by,
    };
    if ((await createOnly(this.#bucket(), merchantKey(m.id), record)) === undefined)
      throw new MerchantKeyStoreError("merchant_exists", `merchant ${m.id} exists already`);
    return record;
  }

  async getMerchant(id: string): Promise<MerchantRecord | undefined> {
    const entry = await this.#bucket().get(merchantKey(id));
    return entry?.operation === "PUT" ? MerchantRecord.parse(entry.json()) : undefined;
  }

  /** Every merchant, by id (read without KV iterators: kv-reads.ts). */
  async listMerchants(): Promise<MerchantRecord[]> {
    const out: MerchantRecord[] = [];
    for (const key of await kvKeys(this.js, this.bucket, "merchant.*")) {
      const entry = await this.#bucket().get(key);
      if (entry?.operation === "PUT") out.push(MerchantRecord.parse(entry.json()));
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** A merchant's keys, oldest first, revoked ones included. */
  async keysOf(merchantId: string): Promise<KeyRecord[]> {
    const out: KeyRecord[] = [];
    for (const key of await kvKeys(this.js, this.bucket, "key.*")) {
      const entry = await this.#bucket().get(key);
      if (entry?.operation !== "PUT") continue;
      const record = KeyRecord.parse(entry.json());
      if (record.merchant_id === merchantId) out.push(record);
    }
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.key_id.localeCompare(b.key_id));
  }

  /**
   * A new key for the merchant: the key itself is returned here and nowhere else, ever.
   * `beforeStore` sees the record (never the key) before it is stored, and may refuse it by throwing.
   */
  async createKey(
    merchantId: string,
    k: {
      scopes: readonly Scope[];
      expiresAt: string | null;
      by: string;
      beforeStore?: (record: KeyRecord) => Promise<void>;
    },
  ): Promise<{ key: string; record: KeyRecord }> {
    if (!(await this.getMerchant(merchantId)))
      throw new MerchantKeyStoreError("merchant_not_found", `no merchant ${merchantId}`);
    for (;;) {
      const key = `${KEY_SCHEME}${randomBytes(KEY_BYTES).toString("hex")}`;
      const record: KeyRecord = {
        key_id: `key_${randomBytes(8).toString("hex")}`,
        merchant_id: merchantId,
        hash: hashApiKey(key).toString("hex"),
        prefix: key.slice(0, KEY_PREFIX_LENGTH),
        scopes: [...new Set(k.scopes)],
        expires_at: k.expiresAt,
        created_at: new Date().toISOString(),
        created_by: k.by,
        revoked_at: null,
      };
      await k.beforeStore?.(record);
      // A key id drawn twice (2^-64) draws again rather than overwrite.
      const revision = await createOnly(this.#bucket(), keyKey(record.key_id), record);
      if (revision === undefined) continue;
      this.#apply(record, revision);
      return { key, record };
    }
  }

  /** Revokes a key of the merchant; revoking a revoked key answers it as it is. */
  async revokeKey(merchantId: string, keyId: string, by: string): Promise<KeyRecord> {
    const kv = this.#bucket();
    for (;;) {
      const entry = await kv.get(keyKey(keyId));
      const current = entry?.operation === "PUT" ? KeyRecord.parse(entry.json()) : undefined;
      if (!entry || !current || current.merchant_id !== merchantId)
        throw new MerchantKeyStoreError("key_not_found", `merchant ${merchantId} has no key ${keyId}`);
      if (current.revoked_at !== null) return current;
      const revoked: KeyRecord = { ...current, revoked_at: new Date().toISOString() };
      try {
        const revision = await kv.update(keyKey(keyId), JSON.stringify(revoked), entry.revision);
        this.opts.log?.info({ merchantId, keyId, by }, "merchant key revoked");
        this.#apply(revoked, revision);
        return revoked;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err; // someone else changed it first: read again
      }
    }
  }

  #onEntry(entry: KvEntry): void {
    if (!entry.key.startsWith("key.")) return;
    if (entry.operation === "PUT") {
      this.#apply(KeyRecord.parse(entry.json()), entry.revision);
      return;
    }
    // A deleted or purged key record: its key no longer authenticates.
    for (const [hash, record] of this.#byHash)
      if (keyKey(record.key_id) === entry.key) {
        this.#byHash.delete(hash);
        this.#revisions.delete(record.key_id);
      }
  }

  /** Applies a record unless a later revision of it is applied already (watch and own writes race). */
  #apply(record: KeyRecord, revision: number): void {
    if (revision <= (this.#revisions.get(record.key_id) ?? 0)) return;
    this.#revisions.set(record.key_id, revision);
    this.#byHash.set(record.hash, record);
  }

  #bucket(): KV {
    if (!this.#kv) throw new Error("MerchantKeyStore used before ensure()");
    return this.#kv;
  }
}

/** Writes `value` under `key` unless the key exists; the revision written, or undefined. */
async function createOnly(kv: KV, key: string, value: unknown): Promise<number | undefined> {
  try {
    return await kv.create(key, JSON.stringify(value));
  } catch (err) {
    if (isWrongLastSequence(err) || (await kv.get(key)) !== null) return undefined;
    throw err;
  }
}
