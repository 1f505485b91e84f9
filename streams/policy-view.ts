// The live, synchronous read side of the policy store: the active version of each kind, the shadow
// routing version and the operators' rotation overrides, kept current by a KV watch. Workers route
// every payment with it; a store applies its own writes to its views at once (policy-store.ts).
import type { KV, KvEntry } from "@nats-io/kv";
import {
  POLICY_KINDS,
  type PolicyDocument,
  type PolicyKind,
  type PolicyOf,
  type RoutingPolicy,
  type Versioned,
} from "../actors/policy/core/schemas.ts";
import type { Logger } from "../config/log.ts";
import {
  Activation,
  Kind,
  Rotation,
  SHADOW_KEY,
  ShadowSetting,
  type StoredPolicy,
} from "./policy-records.ts";

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

/** Where a view reads a stored version (the store, with its cache). */
export type VersionSource = {
  getOrThrow<K extends PolicyKind>(kind: K, version: number): Promise<StoredPolicy<K>>;
};

type Slot<T> = { revision: number; value: T };

export class LiveView implements PolicyView {
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
    private readonly store: VersionSource,
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
