// The policy store's storage: every version of every policy kind, which one is active, the shadow
// routing version and the operators' PSP rotation overrides, in one JetStream KV bucket
// (`<prefix>_policies`). A version is an immutable key (`routing.v7`), written create-only so two
// uploads never share a number. `active.<kind>` is rewritten on each activation; its KV history is
// the activation log. Storage only: which change an operator may make and what it does (activate,
// rollback, shadow, promote, their refusals) is the workflow's (actors/policy/core/workflow.ts), which
// actors/policy/store.ts applies through the writes below. The records are in policy-records.ts;
// the live read side for workers and gateways (PolicyView) in policy-view.ts.
import type { JetStreamClient } from "@nats-io/jetstream";
import { isWrongLastSequence } from "./jetstream-errors.ts";
import { type KV, type KvEntry } from "@nats-io/kv";
import { openBucket } from "./kv-open.ts";
import { POLICY_KINDS, type PolicyKind, type PolicyOf } from "../actors/policy/core/schemas.ts";
import { kvKeys, kvRevisions } from "./kv-reads.ts";
import type { Logger } from "../config/log.ts";
import {
  Activation,
  activeKey,
  parseStored,
  Rotation,
  rotationKey,
  SHADOW_KEY,
  ShadowSetting,
  versionKey,
  type StoredPolicy,
  type VersionInfo,
  type VersionMeta,
} from "./policy-records.ts";
import { LiveView, type PolicyView } from "./policy-view.ts";

export {
  Activation,
  Rotation,
  ShadowSetting,
  StoredPolicy,
  type VersionInfo,
  type VersionMeta,
} from "./policy-records.ts";
export type { PolicyChange, PolicyView } from "./policy-view.ts";

/** `<prefix>_policies`, or `policies` without a prefix (the naming of streams/topology.ts). */
export function policyBucketName(prefix: string): string {
  return prefix ? `${prefix}_policies` : "policies";
}

// KV keeps at most 64 revisions per key: the activation log rollback can walk back through.
const HISTORY = 64;
const MAX_CREATE_ATTEMPTS = 100;

export type PolicyStoreOptions = { replicas?: number; log?: Logger };

export class PolicyKvStore {
  readonly bucket: string;
  #kv: KV | undefined;
  readonly #cache = new Map<string, StoredPolicy>();
  readonly #views = new Set<LiveView>();

  constructor(
    private readonly js: JetStreamClient,
    prefix: string,
    private readonly opts: PolicyStoreOptions = {},
  ) {
    this.bucket = policyBucketName(prefix);
  }

  /** Creates the bucket if needed (idempotent, also when two processes race); returns the store. */
  async ensure(): Promise<this> {
    this.#kv = await openBucket(this.js, this.bucket, {
      history: HISTORY,
      replicas: this.opts.replicas ?? 1,
    });
    return this;
  }

  /** Deletes the bucket and everything in it (tests). */
  async destroy(): Promise<void> {
    for (const view of this.#views) view.close();
    await this.#bucket().destroy();
  }

  /**
   * On a fresh bucket, stores each default as v1 and activates it; kinds that already have an
   * active version are left alone. Safe when several processes start at once: every write is
   * create-only, so exactly one v1 and one first activation exist whoever wins.
   */
  async seedDefaults(defaults: { [K in PolicyKind]: PolicyOf<K> }): Promise<void> {
    const kv = this.#bucket();
    for (const kind of POLICY_KINDS) {
      if (await kv.get(activeKey(kind)).then(isPut)) continue;
      const record = { version: 1, kind, document: defaults[kind], uploadedAt: now(), comment: "default" };
      await createOnce(kv, versionKey(kind, 1), parseStored(record));
      const activation: Activation = { version: 1, at: now(), op: "seed" };
      const revision = await createOnce(kv, activeKey(kind), activation);
      if (revision !== undefined) await this.#publishActive(kind, revision, 1);
    }
  }

  /** Stores a new version (never activates it); answers its number, one above the highest so far. */
  async upload<K extends PolicyKind>(
    kind: K,
    document: PolicyOf<K>,
    meta: VersionMeta = {},
  ): Promise<number> {
    const kv = this.#bucket();
    let version = (await this.#highestVersion(kind)) + 1;
    for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++, version++) {
      const record = parseStored({ version, kind, document, uploadedAt: now(), ...meta });
      try {
        await kv.create(versionKey(kind, version), JSON.stringify(record));
        this.#cache.set(versionKey(kind, version), record);
        return version;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new Error(`no free version number for ${kind} after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  async get<K extends PolicyKind>(kind: K, version: number): Promise<StoredPolicy<K> | undefined> {
    const key = versionKey(kind, version);
    const cached = this.#cache.get(key);
    if (cached) return cached as StoredPolicy<K>;
    const entry = await this.#bucket().get(key);
    if (!isPut(entry)) return undefined;
    const record = parseStored(entry.json());
    this.#cache.set(key, record);
    return record as StoredPolicy<K>;
  }

  /** Every version of a kind, oldest first, with which is active and which is the shadow. */
  async list(kind: PolicyKind): Promise<VersionInfo[]> {
    const [active, shadow] = await Promise.all([this.activeVersion(kind), this.shadowSetting()]);
    const out: VersionInfo[] = [];
    for (const key of await this.#keys(`${kind}.*`)) {
      const entry = await this.#bucket().get(key);
      if (!isPut(entry)) continue;
      const record = parseStored(entry.json());
      this.#cache.set(key, record);
      const { document: _document, ...meta } = record;
      out.push({
        ...meta,
        active: record.version === active?.version,
        shadow: kind === "routing" && record.version === shadow?.version,
      });
    }
    return out.sort((a, b) => a.version - b.version);
  }

  async activeVersion(kind: PolicyKind): Promise<Activation | undefined> {
    const entry = await this.#bucket().get(activeKey(kind));
    return isPut(entry) ? Activation.parse(entry.json()) : undefined;
  }

  /** The activation log of a kind, oldest first (the last 64 activations). */
  async activations(kind: PolicyKind): Promise<Activation[]> {
    return (await this.activationLog(kind)).entries;
  }

  /** Every revision of `active.<kind>`, oldest first, and the last one's revision (0: none yet). */
  async activationLog(kind: PolicyKind): Promise<{ entries: Activation[]; revision: number }> {
    // Read without KV iterators (kv-reads.ts): a rollback walks it, so it must never hang.
    const revisions = await kvRevisions(this.js, this.bucket, activeKey(kind));
    return {
      entries: revisions.filter((r) => r.put).map((r) => Activation.parse(r.msg.json())),
      revision: revisions.at(-1)?.revision ?? 0,
    };
  }

  /**
   * Appends `activation` to the log if the log is still at revision `expected` (0: empty), and
   * applies it to this store's views; the revision written, or undefined when the log moved on.
   */
  async appendActivation(
    kind: PolicyKind,
    activation: Activation,
    expected: number,
  ): Promise<number | undefined> {
    const revision = await this.#writeActive(kind, activation, expected);
    if (revision !== undefined) await this.#publishActive(kind, revision, activation.version);
    return revision;
  }

  async shadowSetting(): Promise<ShadowSetting | undefined> {
    const entry = await this.#bucket().get(SHADOW_KEY);
    return isPut(entry) ? ShadowSetting.parse(entry.json()) : undefined;
  }

  /** Writes the shadow routing setting and applies it, with its document, to this store's views. */
  async writeShadow(setting: ShadowSetting, document: PolicyOf<"routing">): Promise<void> {
    const revision = await this.#bucket().put(SHADOW_KEY, JSON.stringify(setting));
    for (const view of this.#views)
      view.applyShadow(revision, { version: setting.version, policy: document });
  }

  /** Clears the shadow routing setting, if any, and applies that to this store's views. */
  async clearShadow(): Promise<void> {
    const kv = this.#bucket();
    if (!(await this.shadowSetting())) return;
    await kv.delete(SHADOW_KEY);
    const revision = (await kv.get(SHADOW_KEY))?.revision ?? 0;
    for (const view of this.#views) view.applyShadow(revision, undefined);
  }

  async setRotation(psp: string, inRotation: boolean, opts: { reason?: string; by?: string } = {}) {
    const rotation: Rotation = { in: inRotation, at: now(), ...opts };
    const revision = await this.#bucket().put(rotationKey(psp), JSON.stringify(Rotation.parse(rotation)));
    for (const view of this.#views) view.applyRotation(revision, psp, rotation);
    return rotation;
  }

  /** The operators' overrides by PSP name; a PSP nobody touched is absent (in rotation). */
  async rotations(): Promise<Map<string, Rotation>> {
    const out = new Map<string, Rotation>();
    for (const key of await this.#keys("psps.*.rotation")) {
      const entry = await this.#bucket().get(key);
      if (isPut(entry)) out.set(key.split(".")[1]!, Rotation.parse(entry.json()));
    }
    return out;
  }

  /**
   * A live view: resolves once the bucket's current state is loaded and every kind has an active
   * version (waiting for seeding if need be, up to `timeoutMs`). Changes made through this store
   * are applied to its views synchronously when the write succeeds; others arrive by the watch.
   */
  async watch(opts: { timeoutMs?: number } = {}): Promise<PolicyView> {
    const view = new LiveView(this, this.opts.log, () => this.#views.delete(view));
    this.#views.add(view);
    try {
      await view.start(this.#bucket(), opts.timeoutMs ?? 30_000);
    } catch (err) {
      view.close();
      throw err;
    }
    return view;
  }

  /** The stored document of a version, for views; throws when it does not exist. */
  async getOrThrow<K extends PolicyKind>(kind: K, version: number): Promise<StoredPolicy<K>> {
    const record = await this.get(kind, version);
    if (!record) throw new Error(`${kind} has no version ${version}`);
    return record;
  }

  async #publishActive(kind: PolicyKind, revision: number, version: number): Promise<void> {
    if (this.#views.size === 0) return;
    const record = await this.getOrThrow(kind, version);
    for (const view of this.#views) view.applyActive(kind, revision, { version, policy: record.document });
  }

  /** Writes the next activation if the log is still at `expected`; undefined when it moved on. */
  async #writeActive(
    kind: PolicyKind,
    activation: Activation,
    expected: number,
  ): Promise<number | undefined> {
    const kv = this.#bucket();
    const data = JSON.stringify(activation);
    try {
      return expected === 0
        ? await kv.create(activeKey(kind), data)
        : await kv.update(activeKey(kind), data, expected);
    } catch (err) {
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    }
  }

  async #highestVersion(kind: PolicyKind): Promise<number> {
    let highest = 0;
    for (const key of await this.#keys(`${kind}.*`)) {
      const n = /\.v(\d+)$/.exec(key)?.[1];
      if (n !== undefined) highest = Math.max(highest, Number(n));
    }
    return highest;
  }

  #keys(filter: string): Promise<string[]> {
    return kvKeys(this.js, this.bucket, filter);
  }

  #bucket(): KV {
    if (!this.#kv) throw new Error("PolicyStore used before ensure()");
    return this.#kv;
  }
}

function isPut(entry: KvEntry | null): entry is KvEntry {
  return entry !== null && entry.operation === "PUT";
}

/** kv.create that answers undefined when the key exists already (another process was first). */
async function createOnce(kv: KV, key: string, value: unknown): Promise<number | undefined> {
  try {
    return await kv.create(key, JSON.stringify(value));
  } catch (err) {
    if (isWrongLastSequence(err)) return undefined;
    throw err;
  }
}

const now = () => new Date().toISOString();
