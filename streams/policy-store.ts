// The policy store: every version of every policy kind, which one is active, the shadow routing
// version and the operators' PSP rotation overrides, in one JetStream KV bucket (`<prefix>_policies`).
// A version is an immutable key (`routing.v7`), written create-only so two uploads never share a
// number. `active.<kind>` is rewritten on each activation; its KV history is the activation log
// that rollback reads. PolicyView is the live, synchronous read side for workers and gateways.
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import { z } from "zod";
import type { Versioned } from "../actors/policy/decision.ts";
import {
  POLICY_KINDS,
  PolicyDocument,
  type PolicyKind,
  type PolicyOf,
  type RoutingPolicy,
} from "../actors/policy/schemas.ts";
import type { Logger } from "./log.ts";

/** `<prefix>_policies`, or `policies` without a prefix (the naming of streams/topology.ts). */
export function policyBucketName(prefix: string): string {
  return prefix ? `${prefix}_policies` : "policies";
}

// KV keeps at most 64 revisions per key: the activation log rollback can walk back through.
const HISTORY = 64;
const MAX_CREATE_ATTEMPTS = 100;
const SHADOW_KEY = "shadow.routing";

const versionKey = (kind: PolicyKind, version: number) => `${kind}.v${version}`;
const activeKey = (kind: PolicyKind) => `active.${kind}`;
const rotationKey = (psp: string) => `psps.${psp}.rotation`;

const Kind = z.enum(POLICY_KINDS as [PolicyKind, ...PolicyKind[]]);
const Version = z.number().int().min(1);

/** A stored version: written once, never changed. `document` is the validated, normalized form. */
export const StoredPolicy = z.object({
  version: Version,
  kind: Kind,
  document: PolicyDocument,
  uploadedAt: z.string(),
  uploadedBy: z.string().optional(),
  comment: z.string().optional(),
});
export type StoredPolicy<K extends PolicyKind = PolicyKind> = Omit<
  z.infer<typeof StoredPolicy>,
  "kind" | "document"
> & { kind: K; document: PolicyOf<K> };

/** One entry of the activation log (the value of `active.<kind>`). */
export const Activation = z.object({
  version: Version,
  at: z.string(),
  by: z.string().optional(),
  op: z.enum(["seed", "activate", "rollback", "promote"]),
});
export type Activation = z.infer<typeof Activation>;

export const ShadowSetting = z.object({ version: Version, at: z.string(), by: z.string().optional() });
export type ShadowSetting = z.infer<typeof ShadowSetting>;

/** An operator's rotation override for a PSP: `in: false` = forced out of routing. */
export const Rotation = z.object({
  in: z.boolean(),
  at: z.string(),
  reason: z.string().optional(),
  by: z.string().optional(),
});
export type Rotation = z.infer<typeof Rotation>;

export type VersionMeta = { uploadedBy?: string; comment?: string };
export type VersionInfo = Omit<StoredPolicy, "document"> & { active: boolean; shadow: boolean };

/** Throw from a guard to refuse activating a document (e.g. it names a PSP that is gone). */
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

export type PolicyChange =
  | { type: "active"; kind: PolicyKind; version: number }
  | { type: "shadow"; version: number | undefined }
  | { type: "rotation"; psp: string; in: boolean };

/** The live policies of this deployment, read synchronously on the payment path. */
export interface PolicyView {
  active<K extends PolicyKind>(kind: K): Versioned<PolicyOf<K>>;
  /** Any stored version (immutable, so cached forever once read). */
  version<K extends PolicyKind>(kind: K, version: number): Promise<Versioned<PolicyOf<K>>>;
  shadow(): Versioned<RoutingPolicy> | undefined;
  forcedOut(): ReadonlySet<string>;
  /** Called after each change is applied; returns the unsubscribe function. */
  onChange(cb: (change: PolicyChange) => void): () => void;
  close(): void;
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

  /**
   * Every revision of `active.<kind>`, oldest first, read message by message with direct gets
   * (next_by_subj): the KV history iterator runs an ordered consumer, which hangs under concurrent
   * puts on this nats.js/nats-server pair (reproduced), and rollback must never hang.
   */
  async #activationLog(kind: PolicyKind): Promise<{ entries: Activation[]; revision: number }> {
    const jsm = await this.js.jetstreamManager();
    const subject = `$KV.${this.bucket}.${activeKey(kind)}`;
    const entries: Activation[] = [];
    let revision = 0;
    for (let seq = 1; ;) {
      const m = await jsm.direct.getMessage(`KV_${this.bucket}`, { next_by_subj: subject, seq });
      if (!m) break;
      revision = m.seq;
      // A put carries no KV-Operation header; a delete or purge says DEL or PURGE.
      if (!m.header?.get("KV-Operation")) entries.push(Activation.parse(m.json()));
      seq = m.seq + 1;
    }
    return { entries, revision };
  }

  async #highestVersion(kind: PolicyKind): Promise<number> {
    let highest = 0;
    for (const key of await this.#keys(`${kind}.*`)) {
      const n = /\.v(\d+)$/.exec(key)?.[1];
      if (n !== undefined) highest = Math.max(highest, Number(n));
    }
    return highest;
  }

  /**
   * The keys matching a filter, from the stream's per-subject state (one request). The KV keys and
   * history iterators run an ordered consumer, which was seen to hang an operator request for good.
   */
  async #keys(filter: string): Promise<string[]> {
    const prefix = `$KV.${this.bucket}.`;
    const jsm = await this.js.jetstreamManager();
    const info = await jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${prefix}${filter}` });
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  }

  #bucket(): KV {
    if (!this.#kv) throw new Error("PolicyStore used before ensure()");
    return this.#kv;
  }
}

/** Replays the log: activations push, a rollback pops back to the version it names. */
export function activationStack(log: readonly Activation[]): number[] {
  const stack: number[] = [];
  for (const a of log) {
    if (a.op === "rollback") {
      stack.pop();
      if (stack.at(-1) !== a.version) stack.push(a.version);
    } else if (stack.at(-1) !== a.version) stack.push(a.version);
  }
  return stack;
}

function parseStored(raw: unknown): StoredPolicy {
  const record = StoredPolicy.parse(raw);
  if (record.document.kind !== record.kind)
    throw new Error(`stored ${record.kind} v${record.version} holds a ${record.document.kind} document`);
  return record;
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

// ---------------------------------------------------------------------------------------------

type Slot<T> = { revision: number; value: T };

class LiveView implements PolicyView {
  readonly #active = new Map<PolicyKind, Slot<Versioned<PolicyDocument>>>();
  #shadow: Slot<Versioned<RoutingPolicy> | undefined> = { revision: 0, value: undefined };
  readonly #rotations = new Map<string, Slot<Rotation>>();
  #forcedOut: ReadonlySet<string> = new Set();
  readonly #listeners = new Set<(change: PolicyChange) => void>();
  #stop: (() => void) | undefined;
  #closed = false;
  #ready: (() => void) | undefined;
  #loaded = false;

  constructor(
    private readonly store: PolicyStore,
    private readonly log: Logger | undefined,
    private readonly detach: () => void,
  ) {}

  async start(kv: KV, timeoutMs: number): Promise<void> {
    const lastSeq = (await kv.status()).streamInfo.state.last_seq;
    const iter = await kv.watch({ key: ">" });
    this.#stop = () => iter.stop();
    let timer: NodeJS.Timeout | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      this.#ready = resolve;
      timer = setTimeout(
        () => reject(new Error(`policies not loaded within ${timeoutMs} ms: is the bucket seeded?`)),
        timeoutMs,
      );
    });
    if (lastSeq === 0) this.#loaded = true;
    this.#checkReady();
    void (async () => {
      for await (const entry of iter) {
        await this.#onEntry(entry).catch((err: unknown) =>
          this.log?.error({ err, key: entry.key }, "policy change could not be applied"),
        );
        if (!this.#loaded && entry.revision >= lastSeq) this.#loaded = true;
        this.#checkReady();
      }
    })().catch((err: unknown) => this.log?.error({ err }, "policy watch ended"));
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
  }

  #checkReady(): void {
    if (this.#ready && this.#loaded && POLICY_KINDS.every((k) => this.#active.has(k))) {
      this.#ready();
      this.#ready = undefined;
    }
  }

  async #onEntry(entry: KvEntry): Promise<void> {
    const put = entry.operation === "PUT";
    if (entry.key.startsWith("active.")) {
      const kind = Kind.parse(entry.key.slice("active.".length));
      if (!put || entry.revision <= (this.#active.get(kind)?.revision ?? 0)) return;
      const { version } = Activation.parse(entry.json());
      const record = await this.store.getOrThrow(kind, version);
      this.applyActive(kind, entry.revision, { version, policy: record.document });
    } else if (entry.key === SHADOW_KEY) {
      if (entry.revision <= this.#shadow.revision) return;
      if (!put) return this.applyShadow(entry.revision, undefined);
      const { version } = ShadowSetting.parse(entry.json());
      const record = await this.store.getOrThrow("routing", version);
      this.applyShadow(entry.revision, { version, policy: record.document });
    } else if (entry.key.startsWith("psps.") && put) {
      this.applyRotation(entry.revision, entry.key.split(".")[1]!, Rotation.parse(entry.json()));
    }
  }

  applyActive(kind: PolicyKind, revision: number, value: Versioned<PolicyDocument>): void {
    if (revision <= (this.#active.get(kind)?.revision ?? 0)) return;
    this.#active.set(kind, { revision, value });
    this.#emit({ type: "active", kind, version: value.version });
    this.#checkReady();
  }

  applyShadow(revision: number, value: Versioned<RoutingPolicy> | undefined): void {
    if (revision <= this.#shadow.revision) return;
    this.#shadow = { revision, value };
    this.#emit({ type: "shadow", version: value?.version });
  }

  applyRotation(revision: number, psp: string, rotation: Rotation): void {
    if (revision <= (this.#rotations.get(psp)?.revision ?? 0)) return;
    this.#rotations.set(psp, { revision, value: rotation });
    this.#forcedOut = new Set([...this.#rotations].filter(([, s]) => !s.value.in).map(([name]) => name));
    this.#emit({ type: "rotation", psp, in: rotation.in });
  }

  active<K extends PolicyKind>(kind: K): Versioned<PolicyOf<K>> {
    const slot = this.#active.get(kind);
    if (!slot) throw new Error(`no active ${kind} policy`);
    return slot.value as Versioned<PolicyOf<K>>;
  }

  async version<K extends PolicyKind>(kind: K, version: number): Promise<Versioned<PolicyOf<K>>> {
    const record = await this.store.getOrThrow(kind, version);
    return { version, policy: record.document };
  }

  shadow(): Versioned<RoutingPolicy> | undefined {
    return this.#shadow.value;
  }

  forcedOut(): ReadonlySet<string> {
    return this.#forcedOut;
  }

  onChange(cb: (change: PolicyChange) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop?.();
    this.#listeners.clear();
    this.detach();
  }

  #emit(change: PolicyChange): void {
    for (const cb of this.#listeners) {
      try {
        cb(change);
      } catch (err) {
        this.log?.error({ err, change }, "policy change listener failed");
      }
    }
  }
}
