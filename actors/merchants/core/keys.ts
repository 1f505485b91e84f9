// What a merchant API key is: the scopes it may hold, the formats of merchant ids, key ids and keys,
// and how much of a key is shown to humans. Pure. The merchants bucket stores records built from
// these (streams/merchant-records.ts); the gateway checks each route's scope (gateway/scopes.ts).
import { z } from "zod";

/** What a merchant key may do. A closed set: a key asking for anything else is refused. */
export const Scope = {
  paymentsRead: "payments:read",
  paymentsWrite: "payments:write",
  refundsWrite: "refunds:write",
  webhooksManage: "webhooks:manage",
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];
export const SCOPES = Object.values(Scope) as [Scope, ...Scope[]];
export const ScopeEnum = z.enum(SCOPES);

/**
 * A key known from configuration (SWITCHYARD_BOOTSTRAP_KEYS, the demo merchant's) may do
 * everything: it exists before any operator could have chosen its scopes.
 */
export const SEEDED_KEY_SCOPES: readonly Scope[] = SCOPES;

export const MERCHANT_ID = /^[a-zA-Z0-9_-]{1,64}$/;
export const KEY_ID = /^key_[0-9a-f]{16}$/;
/**
 * Keys are `sk_live_` and 32 random bytes in hex: 256 bits, so the digest of a key (what is stored,
 * and what the index is keyed by) can neither be reversed nor guessed.
 */
export const KEY_SCHEME = "sk_live_";
export const KEY_BYTES = 32;
/** How many leading characters of a key are kept to show humans (`sk_live_ab12`). */
export const KEY_PREFIX_LENGTH = 12;
