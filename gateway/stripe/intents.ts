// Stripe's payment intent routes under /v1/payment_intents: create (optionally confirming), retrieve,
// update (before confirmation), confirm, capture, cancel, and list with Stripe's cursor pagination.
// Each validates its parameters first (nothing kept for a refused request), then runs once per
// Idempotency-Key (idempotency.ts) and answers Stripe's objects (actors/webhooks/core/stripe-objects.ts).
import { createHash } from "node:crypto";
import { randomHex } from "../../config/random.ts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { intentIdOf, paymentIdOf } from "../../actors/webhooks/core/stripe-objects.ts";
import { cursorAfterPayment, searchPayments } from "../../actors/projections/search.ts";
import { PAYMENTS_READ_MODEL } from "../../actors/projections/payments.ts";
import { followUpEnvelope } from "../commands.ts";
import { readModelsReady } from "../read-models.ts";
import { ApiError } from "../errors.ts";
import { StripeEngine, headerKey, intentOf, unconfirmedIntent } from "./engine.ts";
import { invalidRequest, resourceMissing, StripeApiError, unexpectedState } from "./errors.ts";
import type { StripeIdempotency } from "./idempotency.ts";
import {
  CancelIntentParams,
  CaptureIntentParams,
  ConfirmIntentParams,
  CreateIntentParams,
  ListIntentsParams,
  RetrieveParams,
  UpdateIntentParams,
  nativeBody,
  parseParams,
  type CardData,
} from "./params.ts";
import type { IntentRecord } from "./stores.ts";
import { testCardOf } from "./test-cards.ts";
import { paramsOf, queryOf } from "./request.ts";

type IdParams = { Params: { id: string } };

export function intentRoutes(
  app: FastifyInstance,
  o: { engine: StripeEngine; idem: StripeIdempotency; currencies: readonly string[] },
): void {
  const { engine, idem } = o;
  const stores = engine.stores;

  /** The card a confirming request brings or the intent names; undefined: none. */
  function cardFor(
    pm: string | null | undefined,
    data: { card: CardData } | undefined,
  ): CardData | undefined {
    if (data !== undefined) return data.card;
    if (pm === undefined || pm === null) return undefined;
    const card = testCardOf(pm);
    if (!card)
      throw new StripeApiError(400, "invalid_request_error", `No such PaymentMethod: '${safe(pm)}'`, {
        code: "resource_missing",
        param: "payment_method",
      });
    return card;
  }

  async function load(req: FastifyRequest, id: string) {
    const paymentId = paymentIdOf(id, "pi");
    if (paymentId === undefined) throw resourceMissing("payment_intent", id, "intent");
    const [record, view] = await Promise.all([
      stores.getIntent(req.merchantId, id),
      engine.payment(req, paymentId),
    ]);
    return { paymentId, record, view };
  }

  app.post("/payment_intents", async (req, reply) => {
    const p = parseParams(CreateIntentParams, paramsOf(req));
    if (!o.currencies.includes(p.currency))
      throw invalidRequest(
        `Invalid currency: ${p.currency.toLowerCase()} is not supported here.`,
        "currency",
        "parameter_invalid_string",
      );
    if (p.payment_method !== undefined && p.payment_method_data !== undefined)
      throw invalidRequest(
        "Pass either payment_method or payment_method_data, not both.",
        "payment_method_data",
      );
    if (p.payment_method_data !== undefined && p.confirm !== true)
      throw invalidRequest(
        "payment_method_data is accepted here only with confirm=true: no card is stored.",
        "payment_method_data",
      );
    const card = cardFor(p.payment_method, p.payment_method_data);
    // The card's own checks (Luhn, expiry) before anything is kept, as Stripe keeps nothing for them.
    if (card && p.confirm === true)
      nativeBody({
        amount: p.amount,
        currency: p.currency,
        capture: "automatic",
        card,
        metadata: p.metadata ?? {},
        return_url: p.return_url,
      });
    await idem.run(req, reply, p, async () => {
      const key = headerKey(req);
      // With a key the intent's id derives from it, so a request retried after a lost answer (even
      // past the replay store) reaches the same payment; without one it is new each time, as in Stripe.
      const seed = key !== undefined ? `k:${digest(key)}` : `r:${randomHex(12)}`;
      const paymentKey = StripeEngine.paymentKeyOf(seed);
      const record: IntentRecord = {
        id: intentIdOf(StripeEngine.paymentIdOf(req.merchantId, paymentKey)),
        merchant: req.merchantId,
        paymentKey,
        amount: p.amount,
        currency: p.currency,
        capture: p.capture_method ?? "automatic",
        payment_method: p.payment_method ?? (p.payment_method_data ? "pm_card_data" : null),
        metadata: p.metadata ?? {},
        description: p.description ?? null,
        return_url: p.return_url ?? null,
        created: Math.floor(Date.now() / 1000),
        confirmed: p.confirm === true,
        canceled_at: null,
      };
      await stores.putIntent(record);
      if (p.confirm !== true) return { status: 200, body: unconfirmedIntent(record) };
      if (!card) throw missingPaymentMethod();
      return { status: 200, body: await engine.confirm(req, record, card) };
    });
  });

  app.get<IdParams>("/payment_intents/:id", async (req) => {
    parseParams(RetrieveParams, queryOf(req));
    const { record, view } = await load(req, req.params.id);
    const intent = intentOf(view, record?.value);
    if (!intent) throw resourceMissing("payment_intent", req.params.id, "intent");
    return intent;
  });

  app.post<IdParams>("/payment_intents/:id", async (req, reply) => {
    const p = parseParams(UpdateIntentParams, paramsOf(req));
    if (p.payment_method_data !== undefined)
      throw invalidRequest("payment_method_data is accepted only when confirming.", "payment_method_data");
    if (p.currency !== undefined && !o.currencies.includes(p.currency))
      throw invalidRequest(
        `Invalid currency: ${p.currency.toLowerCase()} is not supported here.`,
        "currency",
      );
    if (p.payment_method !== undefined) cardFor(p.payment_method, undefined);
    await idem.run(req, reply, p, async () => {
      const { record, view } = await load(req, req.params.id);
      if (!record && !view) throw resourceMissing("payment_intent", req.params.id, "intent");
      if (view || !record || record.value.confirmed || record.value.canceled_at !== null)
        throw unexpectedState("This PaymentIntent can be updated only before it is confirmed here.");
      const next: IntentRecord = {
        ...record.value,
        ...(p.amount !== undefined && { amount: p.amount }),
        ...(p.currency !== undefined && { currency: p.currency }),
        ...(p.capture_method !== undefined && { capture: p.capture_method }),
        ...(p.payment_method !== undefined && { payment_method: p.payment_method }),
        ...(p.metadata !== undefined && { metadata: { ...record.value.metadata, ...p.metadata } }),
        ...(p.description !== undefined && { description: p.description }),
        ...(p.return_url !== undefined && { return_url: p.return_url }),
      };
      if ((await stores.putIntent(next, record.revision)) === undefined) throw changedMeanwhile();
      return { status: 200, body: unconfirmedIntent(next) };
    });
  });

  app.post<IdParams>("/payment_intents/:id/confirm", async (req, reply) => {
    const p = parseParams(ConfirmIntentParams, paramsOf(req));
    if (p.payment_method !== undefined && p.payment_method_data !== undefined)
      throw invalidRequest(
        "Pass either payment_method or payment_method_data, not both.",
        "payment_method_data",
      );
    const given = cardFor(p.payment_method, p.payment_method_data);
    await idem.run(req, reply, p, async () => {
      const { record, view } = await load(req, req.params.id);
      if (!record) {
        if (view)
          throw unexpectedState(
            `You cannot confirm this PaymentIntent because it has a status of ${String(intentOf(view, undefined)?.status)}.`,
          );
        throw resourceMissing("payment_intent", req.params.id, "intent");
      }
      const r = record.value;
      if (r.canceled_at !== null)
        throw unexpectedState("You cannot confirm this PaymentIntent because it has a status of canceled.");
      if (view)
        throw unexpectedState(
          `You cannot confirm this PaymentIntent because it has a status of ${String(intentOf(view, r)?.status)}.`,
        );
      const card = given ?? cardFor(r.payment_method === "pm_card_data" ? null : r.payment_method, undefined);
      if (!card) throw missingPaymentMethod();
      const next: IntentRecord = {
        ...r,
        confirmed: true,
        payment_method: p.payment_method ?? (p.payment_method_data ? "pm_card_data" : r.payment_method),
        return_url: p.return_url ?? r.return_url,
      };
      if ((await stores.putIntent(next, record.revision)) === undefined) throw changedMeanwhile();
      return { status: 200, body: await engine.confirm(req, next, card) };
    });
  });

  app.post<IdParams>("/payment_intents/:id/capture", async (req, reply) => {
    const p = parseParams(CaptureIntentParams, paramsOf(req));
    await idem.run(req, reply, p, async () => {
      const { paymentId, record, view } = await load(req, req.params.id);
      if (!view)
        throw record
          ? unexpectedState(
              `You cannot capture this PaymentIntent because it has a status of ${String(intentOf(undefined, record.value)?.status)}.`,
            )
          : resourceMissing("payment_intent", req.params.id, "intent");
      const amount = p.amount_to_capture !== undefined ? { amount: p.amount_to_capture } : {};
      const envelope = followUpEnvelope(engine.context(req), paymentId, "capture", amount);
      const after = await engine.after(req, await engine.send(req, envelope), paymentId);
      return { status: 200, body: intentOf(after, record?.value) };
    });
  });

  app.post<IdParams>("/payment_intents/:id/cancel", async (req, reply) => {
    const p = parseParams(CancelIntentParams, paramsOf(req));
    await idem.run(req, reply, p, async () => {
      const { paymentId, record, view } = await load(req, req.params.id);
      if (!view) {
        if (!record) throw resourceMissing("payment_intent", req.params.id, "intent");
        if (record.value.confirmed)
          throw unexpectedState("This PaymentIntent is being confirmed; retrieve it and cancel it then.");
        if (record.value.canceled_at !== null)
          throw unexpectedState("You cannot cancel this PaymentIntent because it has a status of canceled.");
        const next = { ...record.value, canceled_at: Math.floor(Date.now() / 1000) };
        if ((await stores.putIntent(next, record.revision)) === undefined) throw changedMeanwhile();
        return { status: 200, body: unconfirmedIntent(next) };
      }
      const envelope = followUpEnvelope(engine.context(req), paymentId, "cancel", {});
      const after = await engine.after(req, await engine.send(req, envelope), paymentId);
      return { status: 200, body: intentOf(after, record?.value) };
    });
  });

  app.get("/payment_intents", async (req) => {
    const p = parseParams(ListIntentsParams, queryOf(req));
    const sql = engine.deps.readModels;
    if (!sql) throw new ApiError("service_unavailable", "listing is not available on this gateway");
    await readModelsReady(sql, [PAYMENTS_READ_MODEL]);
    let cursor: string | undefined;
    if (p.starting_after !== undefined) {
      const after = paymentIdOf(p.starting_after, "pi");
      cursor = after === undefined ? undefined : await cursorAfterPayment(sql, req.merchantId, after);
      if (cursor === undefined) throw resourceMissing("payment_intent", p.starting_after, "starting_after");
    }
    const page = await searchPayments(sql, {
      merchant: req.merchantId,
      limit: p.limit ?? 10,
      ...(cursor !== undefined && { cursor }),
    });
    const data = await Promise.all(
      page.payments.map(async (row) => {
        const id = intentIdOf(row.id);
        const [record, view] = await Promise.all([
          stores.getIntent(req.merchantId, id),
          engine.payment(req, row.id),
        ]);
        return intentOf(view, record?.value);
      }),
    );
    return {
      object: "list",
      data: data.filter((d) => d !== undefined),
      has_more: page.nextCursor !== null,
      url: "/v1/payment_intents",
    };
  });
}

const digest = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 32);
const safe = (s: string) => (/^[A-Za-z0-9_]{1,100}$/.test(s) ? s : "(invalid id)");

function missingPaymentMethod(): StripeApiError {
  return unexpectedState("You cannot confirm this PaymentIntent because it's missing a payment method.");
}

function changedMeanwhile(): StripeApiError {
  // 409: the SDK retries it (with the same Idempotency-Key), and the retry sees the new state.
  return new StripeApiError(
    409,
    "invalid_request_error",
    "This object was changed by another request at the same time; retry.",
    { code: "lock_timeout" },
  );
}
