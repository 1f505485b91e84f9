// The records of the merchants bucket (`<prefix>_merchants`): a merchant under `merchant.<id>`, each
// of its API keys under `key.<key_id>`. A key is held as the sha256 digest of the key (hex) and the
// first characters shown to humans, never in clear: a copy of the bucket grants nothing.
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

export const MERCHANT_ID = /^[a-zA-Z0-9_-]{1,64}$/;
export const KEY_ID = /^key_[0-9a-f]{16}$/;
/** How many leading characters of a key are kept to show humans (`sk_live_ab12`). */
export const KEY_PREFIX_LENGTH = 12;

export const MerchantRecord = z.object({
  id: z.string().regex(MERCHANT_ID),
  name: z.string(),
  created_at: z.iso.datetime(),
  created_by: z.string(),
});
export type MerchantRecord = z.infer<typeof MerchantRecord>;

export const KeyRecord = z.object({
  key_id: z.string().regex(KEY_ID),
  merchant_id: z.string().regex(MERCHANT_ID),
  /** sha256 of the key, hex. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  prefix: z.string().max(KEY_PREFIX_LENGTH),
  scopes: z.array(ScopeEnum),
  expires_at: z.iso.datetime().nullable(),
  created_at: z.iso.datetime(),
  created_by: z.string(),
  revoked_at: z.iso.datetime().nullable(),
});
export type KeyRecord = z.infer<typeof KeyRecord>;

export const merchantKey = (id: string): string => `merchant.${id}`;
export const keyKey = (keyId: string): string => `key.${keyId}`;
