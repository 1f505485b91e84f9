// The policy store the operator API and the processes use: the KV storage of policies
// (streams/policy-store.ts) with the policy workflow (workflow.ts) applied to its writes. Each
// change reads the store's state, lets the workflow decide, and writes with compare-and-set on the
// activation log: when someone else activated meanwhile, it reads and decides again.
import {
  PolicyKvStore,
  type Activation,
  type ShadowSetting,
  type StoredPolicy,
} from "../../streams/policy-store.ts";
import type { PolicyKind } from "./core/schemas.ts";
import {
  changesNothing,
  checkShadowCandidate,
  endsShadow,
  promoteTarget,
  requireVersion,
  rollbackTarget,
  type ChangeOptions,
} from "./core/workflow.ts";

export {
  activationStack,
  PolicyStoreError,
  PolicyStoreErrorCode,
  type ActivationGuard,
  type ChangeOptions,
} from "./core/workflow.ts";
export {
  Activation,
  policyBucketName,
  Rotation,
  ShadowSetting,
  StoredPolicy,
  type PolicyChange,
  type PolicyView,
  type VersionInfo,
  type VersionMeta,
} from "../../streams/policy-store.ts";

export class PolicyStore extends PolicyKvStore {
  /** The stored document of a version; refused with policy_version_not_found when there is none. */
  override async getOrThrow<K extends PolicyKind>(kind: K, version: number): Promise<StoredPolicy<K>> {
    return requireVersion(await this.get(kind, version), kind, version);
  }

  /** Makes `version` the active one; activating the active version changes nothing. */
  async activate(kind: PolicyKind, version: number, opts: ChangeOptions = {}): Promise<Activation> {
    return this.#activate(kind, version, "activate", opts);
  }

  /** Activates the version that was active before the current one (workflow.ts rollbackTarget). */
  async rollback(kind: PolicyKind, opts: ChangeOptions = {}): Promise<Activation> {
    for (;;) {
      const log = await this.activationLog(kind);
      const target = rollbackTarget(kind, log.entries);
      const record = await this.getOrThrow(kind, target);
      opts.guard?.(record.document);
      const activation: Activation = { version: target, at: now(), op: "rollback", ...by(opts) };
      const revision = await this.appendActivation(kind, activation, log.revision);
      if (revision === undefined) continue; // someone activated meanwhile: decide again
      await this.#afterActivation(kind, target);
      return activation;
    }
  }

  /** Sets (a stored routing version other than the active one) or clears (null) the shadow. */
  async setShadow(version: number | null, opts: ChangeOptions = {}): Promise<ShadowSetting | undefined> {
    if (version === null) {
      await this.clearShadow();
      return undefined;
    }
    const record = await this.getOrThrow("routing", version);
    checkShadowCandidate(version, (await this.activeVersion("routing"))?.version);
    opts.guard?.(record.document);
    const setting: ShadowSetting = { version, at: now(), ...by(opts) };
    await this.writeShadow(setting, record.document);
    return setting;
  }

  /** Activates the shadow routing version and clears the shadow. */
  async promoteShadow(opts: ChangeOptions = {}): Promise<Activation> {
    const version = promoteTarget(await this.shadowSetting());
    return this.#activate("routing", version, "promote", opts);
  }

  async #activate(
    kind: PolicyKind,
    version: number,
    op: Activation["op"],
    opts: ChangeOptions,
  ): Promise<Activation> {
    const record = await this.getOrThrow(kind, version);
    opts.guard?.(record.document);
    for (;;) {
      const log = await this.activationLog(kind);
      const current = log.entries.at(-1);
      if (current && changesNothing(current, version, op)) return current;
      const activation: Activation = { version, at: now(), op, ...by(opts) };
      const revision = await this.appendActivation(kind, activation, log.revision);
      if (revision === undefined) continue;
      await this.#afterActivation(kind, version);
      return activation;
    }
  }

  async #afterActivation(kind: PolicyKind, version: number): Promise<void> {
    // Read only when it can matter: a shadow exists for routing alone.
    if (kind === "routing" && endsShadow(kind, version, await this.shadowSetting())) await this.clearShadow();
  }
}

const now = () => new Date().toISOString();
const by = (opts: { by?: string }) => (opts.by === undefined ? {} : { by: opts.by });
