// What the two sandbox PSPs can take, as their adapters declare it, for the policy specs; each spec
// adds the made-up PSPs it needs beside them.
import type { PspCapabilities } from "../../actors/policy/core/schemas.ts";
import { ACME_CAPABILITIES } from "../../actors/psp/acme.ts";
import { BOLT_CAPABILITIES } from "../../actors/psp/bolt.ts";

export function sandboxCapabilities(
  extra: Record<string, PspCapabilities> = {},
): ReadonlyMap<string, PspCapabilities> {
  return new Map([["acme", ACME_CAPABILITIES], ["bolt", BOLT_CAPABILITIES], ...Object.entries(extra)]);
}
