// The policies of a fresh deployment, from config/policies/*.json: checked like an upload, so a bad
// default stops the start with its problems rather than routing payments with it. Seeded into the
// policy store only when it holds no version of a kind yet.
import { readFileSync } from "node:fs";
import {
  POLICY_KINDS,
  type PolicyKind,
  type PolicyOf,
  type PspCapabilities,
} from "../actors/policy/core/schemas.ts";
import { validatePolicy } from "../actors/policy/core/validate.ts";

export function loadDefaultPolicies(capabilities: ReadonlyMap<string, PspCapabilities>): {
  [K in PolicyKind]: PolicyOf<K>;
} {
  const out: Partial<Record<PolicyKind, unknown>> = {};
  for (const kind of POLICY_KINDS) {
    const file = new URL(`../config/policies/${kind}.json`, import.meta.url);
    const r = validatePolicy(JSON.parse(readFileSync(file, "utf8")), { capabilities });
    if (!r.ok)
      throw new Error(
        `config/policies/${kind}.json is invalid: ${r.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
      );
    if (r.policy.kind !== kind) throw new Error(`config/policies/${kind}.json has kind ${r.policy.kind}`);
    out[kind] = r.policy;
  }
  return out as { [K in PolicyKind]: PolicyOf<K> };
}
