// What the policy store keeps in its KV bucket, key by key: the names of the keys and the schema of
// each value. Shared by the store (streams/policy-store.ts) and its live view (policy-view.ts).
import { z } from "zod";
import {
  POLICY_KINDS,
  PolicyDocument,
  type PolicyKind,
  type PolicyOf,
} from "../actors/policy/core/schemas.ts";

export const SHADOW_KEY = "shadow.routing";
export const versionKey = (kind: PolicyKind, version: number) => `${kind}.v${version}`;
export const activeKey = (kind: PolicyKind) => `active.${kind}`;
export const rotationKey = (psp: string) => `psps.${psp}.rotation`;

export const Kind = z.enum(POLICY_KINDS as [PolicyKind, ...PolicyKind[]]);
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

export function parseStored(raw: unknown): StoredPolicy {
  const record = StoredPolicy.parse(raw);
  if (record.document.kind !== record.kind)
    throw new Error(`stored ${record.kind} v${record.version} holds a ${record.document.kind} document`);
  return record;
}
