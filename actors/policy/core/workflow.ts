// The policy workflow: what an operator's change to the live policies does (activate, roll back,
// set or promote the shadow routing version) and when it is refused, decided from what the policy
// store holds now. Pure: actors/policy/store.ts reads the KV state (streams/policy-store.ts), asks
// here, writes the answer with compare-and-set, and asks again when someone else wrote first.
import type { PolicyDocument, PolicyKind } from "./schemas.ts";

/** The refusals of a change, as the operator API answers them (gateway/errors.ts maps each). */
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

/** Throw from a guard to refuse activating a document (e.g. it names a PSP that is gone). */
export type ActivationGuard = (document: PolicyDocument) => void;
export type ChangeOptions = { by?: string; guard?: ActivationGuard };

/** How a version became active: the `op` of an activation log entry. */
export type ActivationOp = "seed" | "activate" | "rollback" | "promote";
/** What the workflow reads of an activation log entry. */
export type LoggedActivation = { version: number; op: ActivationOp };

/** Replays the log: activations push, a rollback pops back to the version it names. */
export function activationStack(log: readonly LoggedActivation[]): number[] {
  const stack: number[] = [];
  for (const a of log) {
    if (a.op === "rollback") {
      stack.pop();
      if (stack.at(-1) !== a.version) stack.push(a.version);
    } else if (stack.at(-1) !== a.version) stack.push(a.version);
  }
  return stack;
}

/** A change may only name a stored version: the record, or the refusal. */
export function requireVersion<R>(record: R | undefined, kind: PolicyKind, version: number): R {
  if (record === undefined)
    throw new PolicyStoreError(PolicyStoreErrorCode.versionNotFound, `${kind} has no version ${version}`);
  return record;
}

/** Activating the version that is active already changes nothing (a rollback or promote does). */
export function changesNothing(
  current: LoggedActivation | undefined,
  version: number,
  op: ActivationOp,
): boolean {
  return current?.version === version && op === "activate";
}

/**
 * The version a rollback activates: the one that was active before the current one. Rollbacks walk
 * back through the log: activate 1, 2, 3, then rollback → 2, rollback → 1, rollback → refused.
 */
export function rollbackTarget(kind: PolicyKind, log: readonly LoggedActivation[]): number {
  const target = activationStack(log).at(-2);
  if (target === undefined)
    throw new PolicyStoreError(
      PolicyStoreErrorCode.noPreviousVersion,
      `${kind} has no version that was active before the current one`,
    );
  return target;
}

/** A shadow routing version must be another one than the active version. */
export function checkShadowCandidate(version: number, activeVersion: number | undefined): void {
  if (activeVersion === version)
    throw new PolicyStoreError(
      PolicyStoreErrorCode.shadowIsActive,
      `routing v${version} is the active version; a shadow must be another one`,
    );
}

/** Promoting activates the shadow routing version; without one there is nothing to promote. */
export function promoteTarget(shadow: { version: number } | undefined): number {
  if (!shadow) throw new PolicyStoreError(PolicyStoreErrorCode.noShadow, "no routing version is in shadow");
  return shadow.version;
}

/** A shadow equal to the active version compares a policy with itself: activating it ends the shadow. */
export function endsShadow(
  kind: PolicyKind,
  activated: number,
  shadow: { version: number } | undefined,
): boolean {
  return kind === "routing" && shadow?.version === activated;
}
