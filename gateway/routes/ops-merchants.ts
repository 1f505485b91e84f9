// The operator routes of merchants and their API keys under /ops/merchants: create and list
// merchants, issue a key with its scopes and expiry (the key is answered once, here, and stored
// only as a digest), and revoke one (every gateway refuses it within a second: the key index is a
// KV watch). Keys are never logged nor audited; their id and prefix are.
import { randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { MerchantKeyStoreError, type KeyRecord, type MerchantRecord } from "../../streams/merchant-keys.ts";
import { KEY_ID, MERCHANT_ID, SCOPES, ScopeEnum } from "../../actors/merchants/core/keys.ts";
import { logFor } from "../context.ts";
import type { OpsDeps } from "../deps.ts";
import { ApiError, storeCall, validationError } from "../errors.ts";
import { BODY_ERRORS, errorResponses, OPERATOR_ERRORS } from "./docs.ts";
import { audit, audited, OPS_SECURITY as security, OPS_TAGS as tags } from "./ops-common.ts";

const MerchantId = z.string().regex(MERCHANT_ID, "1-64 of [a-zA-Z0-9_-]");
const MerchantParams = z.object({ id: MerchantId });
const KeyParams = z.object({ id: MerchantId, key_id: z.string().regex(KEY_ID, "not a key id") });

const CreateMerchantBody = z.strictObject({
  id: MerchantId.optional().describe("Default: `m_` and 16 random hex digits."),
  name: z.string().trim().min(1).max(200),
});
const CreateKeyBody = z.strictObject({
  scopes: z
    .array(ScopeEnum)
    .min(1)
    .max(SCOPES.length * 2)
    .describe(`Any of ${SCOPES.join(", ")}.`),
  expires_at: z.iso
    .datetime({ offset: true })
    .nullable()
    .optional()
    .describe("When the key stops working; default never. Must be in the future."),
});

const MerchantResponse = z.object({
  id: z.string(),
  name: z.string(),
  created_at: z.string(),
  created_by: z.string(),
});
const KeyResponse = z.object({
  key_id: z.string(),
  merchant_id: z.string(),
  prefix: z.string().describe("The key's first characters, to recognise it; never enough to use it."),
  scopes: z.array(ScopeEnum),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  status: z.enum(["active", "expired", "revoked"]),
  created_at: z.string(),
  created_by: z.string(),
});
const CreatedKeyResponse = KeyResponse.extend({
  key: z.string().describe("The key itself: shown this once, stored only as a digest."),
});
const MerchantDetailResponse = MerchantResponse.extend({ keys: z.array(KeyResponse) });

export const opsMerchantRoutes: FastifyPluginCallbackZod<OpsDeps> = (app, ops, done) => {
  const merchants = ops.merchants;
  if (!merchants) {
    done();
    return;
  }

  app.post(
    "/merchants",
    {
      schema: {
        summary: "Create a merchant",
        tags,
        security,
        body: CreateMerchantBody,
        response: {
          201: MerchantResponse,
          ...errorResponses(OPERATOR_ERRORS, BODY_ERRORS, "merchant_exists", "audit_unavailable"),
        },
      },
    },
    async (req, reply) => {
      const id = req.body.id ?? `m_${randomBytes(8).toString("hex")}`;
      const merchant = await audited(
        req,
        "merchant.create",
        { merchant_id: id, name: req.body.name },
        "merchant created",
        () => call(req, () => merchants.createMerchant({ id, name: req.body.name, by: req.operator })),
      );
      return reply.code(201).send(merchantBody(merchant));
    },
  );

  app.get(
    "/merchants",
    {
      schema: {
        summary: "Every merchant",
        tags,
        security,
        response: {
          200: z.object({ merchants: z.array(MerchantResponse) }),
          ...errorResponses(OPERATOR_ERRORS),
        },
      },
    },
    async (req, reply) => {
      const list = await call(req, () => merchants.listMerchants());
      return reply.send({ merchants: list.map(merchantBody) });
    },
  );

  app.get(
    "/merchants/:id",
    {
      schema: {
        summary: "A merchant and its keys (prefix, scopes, expiry, revocation; never the key)",
        tags,
        security,
        params: MerchantParams,
        response: {
          200: MerchantDetailResponse,
          ...errorResponses(OPERATOR_ERRORS, "validation_error", "merchant_not_found"),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const [merchant, keys] = await call(req, () =>
        Promise.all([merchants.getMerchant(id), merchants.keysOf(id)]),
      );
      if (!merchant) throw new ApiError("merchant_not_found", `no merchant ${id}`);
      const now = Date.now();
      return reply.send({ ...merchantBody(merchant), keys: keys.map((k) => keyBody(k, now)) });
    },
  );

  app.post(
    "/merchants/:id/keys",
    {
      schema: {
        summary: "Issue an API key to a merchant",
        description:
          "The answer carries the key once: it is stored only as a sha256 digest and cannot be " +
          "shown again. A request outside the key's scopes is answered 403 insufficient_scope.",
        tags,
        security,
        params: MerchantParams,
        body: CreateKeyBody,
        response: {
          201: CreatedKeyResponse,
          ...errorResponses(OPERATOR_ERRORS, BODY_ERRORS, "merchant_not_found", "audit_unavailable"),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const expiresAt = req.body.expires_at ? new Date(req.body.expires_at) : null;
      if (expiresAt && expiresAt.getTime() <= Date.now())
        throw validationError([
          {
            in: "body",
            path: "expires_at",
            code: "in_the_past",
            message: "expires_at must be in the future",
          },
        ]);
      const { key, record } = await call(req, () =>
        merchants.createKey(id, {
          scopes: req.body.scopes,
          expiresAt: expiresAt?.toISOString() ?? null,
          by: req.operator,
          // Audited once the key id is drawn, before the key is stored.
          beforeStore: (r) =>
            audit(
              req,
              "merchant_key.create",
              {
                merchant_id: id,
                key_id: r.key_id,
                prefix: r.prefix,
                scopes: r.scopes,
                expires_at: r.expires_at,
              },
              "merchant key issued",
            ),
        }),
      );
      return reply.code(201).send({ ...keyBody(record, Date.now()), key });
    },
  );

  app.delete(
    "/merchants/:id/keys/:key_id",
    {
      schema: {
        summary: "Revoke a merchant's API key",
        description: "Every gateway refuses the key within a second (401). Revoking twice answers the same.",
        tags,
        security,
        params: KeyParams,
        response: {
          200: KeyResponse,
          ...errorResponses(OPERATOR_ERRORS, "validation_error", "key_not_found", "audit_unavailable"),
        },
      },
    },
    async (req, reply) => {
      const { id, key_id } = req.params;
      const record = await audited(
        req,
        "merchant_key.revoke",
        { merchant_id: id, key_id },
        "merchant key revoked",
        () => call(req, () => merchants.revokeKey(id, key_id, req.operator)),
      );
      return reply.send(keyBody(record, Date.now()));
    },
  );

  done();
};

/** A merchant store operation: its refusals keep their code, an unreachable bucket is 503 (logged here). */
function call<T>(req: FastifyRequest, fn: () => Promise<T>): Promise<T> {
  return storeCall(fn, {
    unavailable: "the merchant store cannot be reached right now; retry later",
    refusal: (err) => (err instanceof MerchantKeyStoreError ? err : undefined),
    log: (err) => logFor(req).error({ err }, "merchant store call failed"),
  });
}

function merchantBody(m: MerchantRecord) {
  return { id: m.id, name: m.name, created_at: m.created_at, created_by: m.created_by };
}

/** A key as operators see it: everything but its digest. */
function keyBody(k: KeyRecord, now: number) {
  return {
    status: keyStatus(k, now),
    key_id: k.key_id,
    merchant_id: k.merchant_id,
    prefix: k.prefix,
    scopes: k.scopes,
    expires_at: k.expires_at,
    revoked_at: k.revoked_at,
    created_at: k.created_at,
    created_by: k.created_by,
  };
}

function keyStatus(k: KeyRecord, now: number): "active" | "expired" | "revoked" {
  if (k.revoked_at !== null) return "revoked";
  if (k.expires_at !== null && Date.parse(k.expires_at) <= now) return "expired";
  return "active";
}
