// The records of the merchants bucket (`<prefix>_merchants`): a merchant under `merchant.<id>`, each
// of its API keys under `key.<key_id>`. A key is held as the sha256 digest of the key (hex) and the
// first characters shown to humans, never in clear: a copy of the bucket grants nothing. What a
// key may hold and the formats are the merchants domain's (actors/merchants/core/keys.ts).
import { z } from "zod";
import { KEY_ID, KEY_PREFIX_LENGTH, MERCHANT_ID, ScopeEnum } from "../actors/merchants/core/keys.ts";

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
