// Bad input over gRPC: what the proto's types cannot refuse (empty strings, zero and negative
// amounts, amounts past 2^53, huge strings, NUL, lone surrogates, card numbers in free text,
// unknown ids, another merchant's payment, a key without the scope) is refused with the HTTP API's
// code in the ErrorInfo and the field in the BadRequest, before anything is queued. Strings whose
// bytes are not UTF-8: grpc-inputs-bytes.e2e.spec.ts.
import { expect } from "chai";
import { status } from "@grpc/grpc-js";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { CARDS, startTestPlatform, type TestPlatform } from "../support/platform.ts";
import {
  auth,
  call,
  createRequest,
  failure,
  paymentsClient,
  type PaymentsClient,
} from "../support/grpc-client.ts";
import type { CreatePaymentRequest } from "../../gateway/grpc/generated/switchyard/v1/CreatePaymentRequest.ts";
import type { PaymentResult__Output as Result } from "../../gateway/grpc/generated/switchyard/v1/PaymentResult.ts";

type Case = { name: string; req: CreatePaymentRequest; code: number; reason: string; field?: string };

describe("bad input over gRPC (e2e)", function () {
  this.timeout(30_000);
  let platform: TestPlatform;
  let client: PaymentsClient;
  let alphaKey: string;

  before(async () => {
    platform = await startTestPlatform();
    client = paymentsClient(platform.grpcAddress!);
    alphaKey = platform.merchants[0]!.key;
  });
  after(async () => {
    client?.close();
    await platform?.cleanup();
  });

  const card = (over: Partial<NonNullable<CreatePaymentRequest["card"]>>) => ({
    number: CARDS.success,
    exp_month: 12,
    exp_year: 2030,
    cvc: "123",
    ...over,
  });
  const invalid = status.INVALID_ARGUMENT;
  const cases: Case[] = [
    {
      name: "an empty idempotency_key",
      req: createRequest({ idempotency_key: "" }),
      code: invalid,
      reason: "idempotency_key_missing",
    },
    {
      name: "an idempotency_key with a NUL",
      req: createRequest({ idempotency_key: "a\u0000b" }),
      code: invalid,
      reason: "validation_error",
      field: "idempotency_key",
    },
    {
      name: "an idempotency_key of 256 characters",
      req: createRequest({ idempotency_key: "k".repeat(256) }),
      code: invalid,
      reason: "validation_error",
      field: "idempotency_key",
    },
    {
      name: "amount 0 (the proto default: unset)",
      req: createRequest({ amount: 0 }),
      code: invalid,
      reason: "validation_error",
      field: "amount",
    },
    {
      name: "a negative amount",
      req: createRequest({ amount: -100 }),
      code: invalid,
      reason: "validation_error",
      field: "amount",
    },
    {
      name: "an amount past 2^53",
      req: createRequest({ amount: "9007199254740993" }),
      code: invalid,
      reason: "validation_error",
      field: "amount",
    },
    {
      name: "an int64's largest amount",
      req: createRequest({ amount: "9223372036854775807" }),
      code: invalid,
      reason: "validation_error",
      field: "amount",
    },
    {
      name: "an empty currency",
      req: createRequest({ currency: "" }),
      code: invalid,
      reason: "validation_error",
      field: "currency",
    },
    {
      name: "a lowercase currency",
      req: createRequest({ currency: "eur" }),
      code: invalid,
      reason: "validation_error",
      field: "currency",
    },
    {
      name: "a currency no PSP takes",
      req: createRequest({ currency: "CZK" }),
      code: invalid,
      reason: "currency_not_supported",
    },
    {
      name: "an unknown capture mode",
      req: createRequest({ capture: "later" }),
      code: invalid,
      reason: "validation_error",
      field: "capture",
    },
    {
      name: "no card",
      req: createRequest({ card: null }),
      code: invalid,
      reason: "validation_error",
      field: "card",
    },
    {
      name: "an empty card number",
      req: createRequest({ card: card({ number: "" }) }),
      code: invalid,
      reason: "validation_error",
      field: "card.number",
    },
    {
      name: "a card number failing Luhn",
      req: createRequest({ card: card({ number: "4242424242424241" }) }),
      code: invalid,
      reason: "validation_error",
      field: "card.number",
    },
    {
      name: "an expired card",
      req: createRequest({ card: card({ exp_year: 2001 }) }),
      code: invalid,
      reason: "validation_error",
      field: "card.exp_year",
    },
    {
      name: "exp_month 0 (unset)",
      req: createRequest({ card: card({ exp_month: 0 }) }),
      code: invalid,
      reason: "validation_error",
      field: "card.exp_month",
    },
    {
      name: "an empty cvc",
      req: createRequest({ card: card({ cvc: "" }) }),
      code: invalid,
      reason: "validation_error",
      field: "card.cvc",
    },
    {
      name: "a reference of 300 characters",
      req: createRequest({ reference: "r".repeat(300) }),
      code: invalid,
      reason: "validation_error",
      field: "reference",
    },
    {
      name: "a reference of 60 KB",
      req: createRequest({ reference: "r".repeat(60_000) }),
      code: invalid,
      reason: "validation_error",
      field: "reference",
    },
    {
      name: "a NUL in the reference",
      req: createRequest({ reference: "order\u00001" }),
      code: invalid,
      reason: "invalid_characters",
      field: "reference",
    },
    {
      name: "a card number in the reference",
      req: createRequest({ reference: `pan ${CARDS.success}` }),
      code: invalid,
      reason: "card_number_in_free_text",
      field: "reference",
    },
    {
      name: "a card number in a metadata value",
      req: createRequest({ metadata: { note: CARDS.success } }),
      code: invalid,
      reason: "card_number_in_free_text",
      field: "metadata.note",
    },
    {
      name: "an empty metadata key",
      req: createRequest({ metadata: { "": "v" } }),
      code: invalid,
      reason: "validation_error",
    },
    {
      name: "21 metadata keys",
      req: createRequest({
        metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"])),
      }),
      code: invalid,
      reason: "validation_error",
      field: "metadata",
    },
    {
      name: "a javascript: return_url",
      req: createRequest({ return_url: "javascript:alert(1)" }),
      code: invalid,
      reason: "validation_error",
      field: "return_url",
    },
  ];

  for (const c of cases)
    it(`refuses a create with ${c.name}: ${status[c.code]} ${c.reason}, nothing queued`, async () => {
      const err = await failure(call<Result>((cb) => client.CreatePayment(c.req, auth(alphaKey), cb)));
      expect(err.code, err.details).to.equal(c.code);
      expect(err.rich).to.deep.include({ reason: c.reason, domain: "switchyard" });
      if (c.field !== undefined) expect(err.rich!.violations.map((v) => v.field)).to.include(c.field);
      // Never the card number echoed back.
      expect(JSON.stringify(err.rich) + err.details).not.to.contain(CARDS.success);
      if (c.req.idempotency_key) {
        const id = paymentIdFor(platform.merchants[0]!.merchantId, c.req.idempotency_key);
        const get = await failure(call((cb) => client.GetPayment({ payment_id: id }, auth(alphaKey), cb)));
        expect(get.code).to.equal(status.NOT_FOUND);
      }
    });

  it("refuses a request past 64 KiB before decoding it: RESOURCE_EXHAUSTED", async () => {
    const req = createRequest({ reference: "r".repeat(1 << 20) });
    const err = await failure(call<Result>((cb) => client.CreatePayment(req, auth(alphaKey), cb)));
    expect(err.code, err.details).to.equal(status.RESOURCE_EXHAUSTED);
    const id = paymentIdFor(platform.merchants[0]!.merchantId, req.idempotency_key!);
    const get = await failure(call((cb) => client.GetPayment({ payment_id: id }, auth(alphaKey), cb)));
    expect(get.code).to.equal(status.NOT_FOUND);
  });

  const followUps: Array<{
    name: string;
    req: { payment_id: string; amount?: number };
    reason: string;
    code: number;
    field?: string;
  }> = [
    {
      name: "an empty payment_id",
      req: { payment_id: "" },
      code: invalid,
      reason: "validation_error",
      field: "payment_id",
    },
    {
      name: "a payment_id with a subject wildcard",
      req: { payment_id: "pay_*" },
      code: invalid,
      reason: "validation_error",
      field: "payment_id",
    },
    {
      name: "a payment_id with a NUL",
      req: { payment_id: "pay_\u0000" },
      code: invalid,
      reason: "invalid_characters",
      field: "payment_id",
    },
    {
      name: "a card number as payment_id",
      req: { payment_id: CARDS.success },
      code: invalid,
      reason: "card_number_in_free_text",
    },
    {
      name: "an unknown payment",
      req: { payment_id: "pay_000000000000000000000000" },
      code: status.NOT_FOUND,
      reason: "payment_not_found",
    },
    {
      name: "a negative amount",
      req: { payment_id: "pay_000000000000000000000000", amount: -1 },
      code: invalid,
      reason: "validation_error",
      field: "amount",
    },
  ];
  for (const c of followUps)
    it(`refuses a capture with ${c.name}: ${status[c.code]} ${c.reason}`, async () => {
      const err = await failure(
        call<Result>((cb) => client.CapturePayment({ idempotency_key: "k", ...c.req }, auth(alphaKey), cb)),
      );
      expect(err.code, err.details).to.equal(c.code);
      expect(err.rich?.reason).to.equal(c.reason);
      if (c.field !== undefined) expect(err.rich!.violations.map((v) => v.field)).to.include(c.field);
    });

  it("answers another merchant's payment exactly like an unknown one, for every method", async () => {
    const created = await call<Result>((cb) => client.CreatePayment(createRequest(), auth(alphaKey), cb));
    const id = created.payment!.id;
    const beta = auth(platform.merchants[1]!.key);
    const errors = [
      await failure(call((cb) => client.GetPayment({ payment_id: id }, beta, cb))),
      await failure(
        call<Result>((cb) => client.CapturePayment({ idempotency_key: "b", payment_id: id }, beta, cb)),
      ),
      await failure(
        call<Result>((cb) => client.RefundPayment({ idempotency_key: "b", payment_id: id }, beta, cb)),
      ),
      await failure(
        call<Result>((cb) => client.CancelPayment({ idempotency_key: "b", payment_id: id }, beta, cb)),
      ),
    ];
    for (const e of errors)
      expect([e.code, e.rich?.reason]).to.deep.equal([status.NOT_FOUND, "payment_not_found"]);
    const mine = await call<Result>((cb) =>
      client.CapturePayment({ idempotency_key: "a", payment_id: id }, auth(alphaKey), cb),
    );
    expect(mine.payment!.status).to.equal("captured");
  });

  it("refuses what the payment's state does not allow: FAILED_PRECONDITION, and a refund above the captured amount", async () => {
    const created = await call<Result>((cb) => client.CreatePayment(createRequest(), auth(alphaKey), cb));
    const id = created.payment!.id;
    const refund = await failure(
      call<Result>((cb) =>
        client.RefundPayment({ idempotency_key: "r", payment_id: id, amount: 100 }, auth(alphaKey), cb),
      ),
    );
    expect(refund.code).to.equal(status.FAILED_PRECONDITION);
    expect(refund.rich?.reason).to.equal("invalid_state_transition");
    const tooMuch = await failure(
      call<Result>((cb) =>
        client.CapturePayment({ idempotency_key: "c", payment_id: id, amount: 2501 }, auth(alphaKey), cb),
      ),
    );
    expect(tooMuch.code).to.equal(status.FAILED_PRECONDITION);
    expect(tooMuch.rich?.reason).to.equal("amount_too_large");
  });

  it("holds a key to its scopes: a read-only key reads but cannot pay (PERMISSION_DENIED)", async () => {
    const res = await platform.ops.post<{ key: string }>(
      `/ops/merchants/${platform.merchants[0]!.merchantId}/keys`,
      {
        scopes: ["payments:read"],
      },
    );
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const readOnly = auth(res.body.key);
    const err = await failure(call<Result>((cb) => client.CreatePayment(createRequest(), readOnly, cb)));
    expect(err.code).to.equal(status.PERMISSION_DENIED);
    expect(err.rich).to.deep.include({ reason: "insufficient_scope" });
    expect(err.rich!.metadata.missing_scope).to.equal("payments:write");
    const created = await call<Result>((cb) => client.CreatePayment(createRequest(), auth(alphaKey), cb));
    // The key index follows the merchants bucket: the new key is known once its watch delivered it.
    const got = await call<{ id: string }>((cb) =>
      client.GetPayment({ payment_id: created.payment!.id }, readOnly, cb),
    );
    expect(got.id).to.equal(created.payment!.id);
  });
});
