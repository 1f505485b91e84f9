// POST /v1/card-tokens: a card, once, for a token an internal system pays with over NATS
// (docs/nats-client.md). The token is self-contained (actors/payment/core/card-token.ts): the card
// sealed under the card key, bound to this merchant and to the token's readable facts, valid for
// CARD_TOKEN_TTL_MS. Nothing is stored, so a retried request gets another token, as good as the
// first; the Idempotency-Key is still required, as on every merchant POST (one rule for clients and
// the OpenAPI document, held by test/int/gateway-openapi.int.spec.ts and
// test/e2e/bad-inputs-requests.e2e.spec.ts), and only validated.
// The card number is refused everywhere but `card.number` here, by the same free-text rule as every
// route (gateway/card-in-text.ts), and never echoed, logged or stored.
import { createHash } from "node:crypto";
import { z } from "zod";
import type { FastifyPluginCallbackZod } from "fastify-type-provider-zod";
import { CARD_TOKEN_TTL_MS } from "../../actors/payment/core/card-token.ts";
import { issueCardToken } from "../../actors/payment/card-seal.ts";
import { CardFactsView } from "../../actors/payment/core/view.ts";
import { cardFactsOf, deriveFingerprintKeys } from "../commands.ts";
import { bindLog, idempotencyKeyHook, logFor } from "../context.ts";
import type { GatewayDeps } from "../deps.ts";
import { Card, IdempotencyHeaders } from "../schemas.ts";
import { BODY_ERRORS, errorResponses } from "./docs.ts";

// The card as a payment takes it (gateway/schemas.ts): its messages never repeat the value.
export const CardTokenRequest = z
  .strictObject({
    card: Card,
  })
  .meta({ id: "CardTokenRequest" });

export const CardTokenResponse = z
  .object({
    id: z.string().describe("ctok_…: names the token in logs and support requests (a digest of it)."),
    object: z.literal("card_token"),
    token: z.string().describe("What a CreatePayment over NATS carries as cardToken. Keep it secret."),
    card: CardFactsView.extend({
      fingerprint: z.string().describe("The same card always has the same fingerprint (keyed hash)."),
    }),
    expires_at: z
      .string()
      .describe("After this, a command carrying the token is refused card_token_expired."),
  })
  .meta({ id: "CardToken" });

export const cardTokenRoutes: FastifyPluginCallbackZod<GatewayDeps> = (app, deps, done) => {
  const keys = deriveFingerprintKeys(deps.fingerprintKey ?? deps.cardKey);
  app.post(
    "/card-tokens",
    {
      onRequest: idempotencyKeyHook,
      schema: {
        summary: "Tokenize a card for an internal system",
        description:
          "Seals the card for this merchant into a token valid for 15 minutes, which a CreatePayment " +
          "command published to NATS carries instead of the card (docs/nats-client.md). Nothing is " +
          "stored; a repeated request (same Idempotency-Key or not) gets another token for the same " +
          "card (same fingerprint), as good as the first.",
        tags: ["card tokens"],
        security: [{ bearerAuth: [] }],
        headers: IdempotencyHeaders,
        body: CardTokenRequest,
        response: {
          201: CardTokenResponse,
          ...errorResponses(
            BODY_ERRORS,
            "unauthorized",
            "insufficient_scope",
            "idempotency_key_missing",
            "unsupported_media_type",
          ),
        },
      },
    },
    async (req, reply) => {
      const c = req.body.card;
      const facts = cardFactsOf(keys, c);
      const expiresAt = new Date(Date.now() + CARD_TOKEN_TTL_MS).toISOString();
      const card = {
        brand: facts.brand,
        last4: facts.last4,
        bin_country: facts.binCountry,
        exp_month: facts.expMonth,
        exp_year: facts.expYear,
        fingerprint: facts.fingerprint,
      };
      const token = issueCardToken(
        deps.cardKey,
        req.merchantId,
        { number: c.number, expMonth: c.exp_month, expYear: c.exp_year, cvc: c.cvc },
        { ...card, expires_at: expiresAt },
      );
      const id = `ctok_${createHash("sha256").update(token).digest("hex").slice(0, 24)}`;
      bindLog(req, reply, { cardTokenId: id });
      deps.metrics.cardTokensIssued.inc();
      logFor(req).info({ cardTokenId: id, brand: card.brand, expiresAt }, "card token issued");
      void reply.header("cache-control", "no-store");
      return reply.code(201).send({ id, object: "card_token" as const, token, card, expires_at: expiresAt });
    },
  );
  done();
};
