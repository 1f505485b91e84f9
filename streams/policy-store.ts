// The policy store: every version of every policy kind, which one is active, the shadow routing
// version and the operators' PSP rotation overrides, in one JetStream KV bucket (`<prefix>_policies`).
// A version is an immutable key (`routing.v7`), written create-only so two uploads never share a
// number. `active.<kind>` is rewritten on each activation; its KV history is the activation log
// that rollback reads. The records are in policy-records.ts; the live read side for workers and
// gateways (PolicyView) in policy-view.ts.
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import {
  POLICY_KINDS,
  type PolicyDocument,
  type PolicyKind,
  type PolicyOf,
} from "../actors/policy/schemas.ts";
import { kvKeys, kvRevisions } from "./kv-reads.ts";
import type { Logger } from "../config/log.ts";
import {
  Activation,
  activationStack,
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
  activationStack,
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

export type ActivationGuard = (document: PolicyDocument) => void;
export type ChangeOptions = { by?: string; guard?: ActivationGuard };

export const PolicyStoreErrorCode = {
  versionNotFound: "policy_version_not_found",
  noPreviousVersion: "no_previous_version",
  shadowIsActive: "shadow_is_active",
  noShadow: "no_shadow_version",
} as const;
export type PolicyStoreErrorCode = (typeof PolicyStoreErrorCode)[keyof typeof PolicyStoreErrorCode];

export class PolicyStoreError extends Error {
  override name = "PolicyStoreError";
  constructor(
    readonly code: PolicyStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export type PolicyStoreOptions = { replicas?: number; log?: Logger };

export class PolicyStore {
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
    const create = () =>
      new Kvm(this.js).create(this.bucket, { history: HISTORY, replicas: this.opts.replicas ?? 1 });
    // The loser of a creation race may see the stream appear between its info and add: once more.
    this.#kv = await create().catch(() => create());
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
    return (await this.#activationLog(kind)).entries;
  }

  /** Makes `version` the active one; activating the active version changes nothing. */
  async activate(kind: PolicyKind, version: number, opts: ChangeOptions = {}): Promise<Activation> {
    return this.#activate(kind, version, "activate", opts);
  }

  /**
   * Activates the version that was active before the current one. Rollbacks walk back through the
   * log: activate 1, 2, 3, then rollback → 2, rollback → 1, rollback → no_previous_version.
   */
  async rollback(kind: PolicyKind, opts: ChangeOptions = {}): Promise<Activation> {
    for (;;) {
      const log = await this.#activationLog(kind);
      const stack = activationStack(log.entries);
      const target = stack.at(-2);
      if (target === undefined)
        throw new PolicyStoreError(
          PolicyStoreErrorCode.noPreviousVersion,
          `${kind} has no version that was active before the current one`,
        );
      const record = await this.#require(kind, target);
      opts.guard?.(record.document);
      const activation: Activation = { version: target, at: now(), op: "rollback", ...by(opts) };
      const revision = await this.#writeActive(kind, activation, log.revision);
      if (revision === undefined) continue; // someone activated meanwhile: decide again
      await this.#afterActivation(kind, revision, target, opts);
      return activation;
    }
  }

  async shadowSetting(): Promise<ShadowSetting | undefined> {
    const entry = await this.#bucket().get(SHADOW_KEY);
    return isPut(entry) ? ShadowSetting.parse(entry.json()) : undefined;
  }

  /** Sets (a stored routing version other than the active one) or clears (null) the shadow. */
  async setShadow(version: number | null, opts: ChangeOptions = {}): Promise<ShadowSetting | undefined> {
    const kv = this.#bucket();
    if (version === null) {
      if (!(await this.shadowSetting())) return undefined;
      await kv.delete(SHADOW_KEY);
      const revision = (await kv.get(SHADOW_KEY))?.revision ?? 0;
      for (const view of this.#views) view.applyShadow(revision, undefined);
      return undefined;
    }
    const record = await this.#require("routing", version);
    if ((await this.activeVersion("routing"))?.version === version)
      throw new PolicyStoreError(
        PolicyStoreErrorCode.shadowIsActive,
        `routing v${version} is the active version; a shadow must be another one`,
      );
    opts.guard?.(record.document);
    const setting: ShadowSetting = { version, at: now(), ...by(opts) };
    const revision = await kv.put(SHADOW_KEY, JSON.stringify(setting));
    for (const view of this.#views) view.applyShadow(revision, { version, policy: record.document });
    return setting;
  }

  /** Activates the shadow routing version and clears the shadow. */
  async promoteShadow(opts: ChangeOptions = {}): Promise<Activation> {
    const shadow = await this.shadowSetting();
    if (!shadow) throw new PolicyStoreError(PolicyStoreErrorCode.noShadow, "no routing version is in shadow");
    return this.#activate("routing", shadow.version, "promote", opts);
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

  /** @internal The stored document of a version, for views; throws when it does not exist. */
  async getOrThrow<K extends PolicyKind>(kind: K, version: number): Promise<StoredPolicy<K>> {
    return this.#require(kind, version);
  }

  async #require<K extends PolicyKind>(kind: K, version: number): Promise<StoredPolicy<K>> {
    const record = await this.get(kind, version);
    if (!record)
      throw new PolicyStoreError(PolicyStoreErrorCode.versionNotFound, `${kind} has no version ${version}`);
    return record;
  }

  async #activate(
    kind: PolicyKind,
    version: number,
    op: Activation["op"],
    opts: ChangeOptions,
  ): Promise<Activation> {
    const record = await this.#require(kind, version);
    opts.guard?.(record.document);
    for (;;) {
      const log = await this.#activationLog(kind);
      const current = log.entries.at(-1);
      if (current?.version === version && op === "activate") return current;
      const activation: Activation = { version, at: now(), op, ...by(opts) };
      const revision = await this.#writeActive(kind, activation, log.revision);
      if (revision === undefined) continue;
      await this.#afterActivation(kind, revision, version, opts);
      return activation;
    }
  }

  async #afterActivation(kind: PolicyKind, revision: number, version: number, opts: ChangeOptions) {
    await this.#publishActive(kind, revision, version);
    // A shadow equal to the active version compares a policy with itself: it ends here.
    if (kind === "routing" && (await this.shadowSetting())?.version === version)
      await this.setShadow(null, opts);
  }

  async #publishActive(kind: PolicyKind, revision: number, version: number): Promise<void> {
    if (this.#views.size === 0) return;
    const record = await this.#require(kind, version);
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

  /** Every revision of `active.<kind>`, oldest first: rollback walks it, so it must never hang. */
  async #activationLog(kind: PolicyKind): Promise<{ entries: Activation[]; revision: number }> {
    const revisions = await kvRevisions(this.js, this.bucket, activeKey(kind));
    return {
      entries: revisions.filter((r) => r.put).map((r) => Activation.parse(r.msg.json())),
      revision: revisions.at(-1)?.revision ?? 0,
    };
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
const by = (opts: { by?: string }) => (opts.by === undefined ? {} : { by: opts.by });
