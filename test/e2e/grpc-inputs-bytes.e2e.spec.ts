// Strings whose bytes are not UTF-8, over gRPC. A grpc-js client cannot send them (its encoder writes
// U+FFFD for a lone surrogate); a raw one can: a lone surrogate's bytes (ED A0 80), a Latin-1 "é"
// (E9). The server's decoder would read them as U+FFFD and the payment would keep text its client
// never sent; they are refused instead (gateway/grpc/utf8-fields.ts), naming the field — a map's key
// or value as metadata.key / metadata.value — and nothing is queued.
import { expect } from "chai";
import { status } from "@grpc/grpc-js";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { startTestPlatform, type TestPlatform } from "../support/platform.ts";
import {
  auth,
  call,
  createRaw,
  createRequest,
  failure,
  paymentsClient,
  replaceBytes,
  type PaymentsClient,
} from "../support/grpc-client.ts";
import type { CreatePaymentRequest } from "../../gateway/grpc/generated/switchyard/v1/CreatePaymentRequest.ts";
import type { PaymentResult__Output as Result } from "../../gateway/grpc/generated/switchyard/v1/PaymentResult.ts";

describe("strings that are not UTF-8 over gRPC (e2e)", function () {
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

  const notUtf8: Array<[string, CreatePaymentRequest, string, number[]]> = [
    [
      "a lone surrogate's bytes in the reference",
      createRequest({ reference: "order\uFFFDx" }),
      "reference",
      [0xed, 0xa0, 0x80],
    ],
    [
      "a Latin-1 byte in the reference",
      createRequest({ reference: "caf\uFFFD" }),
      "reference",
      [0xe9, 0x20, 0x20],
    ],
    [
      "a lone surrogate's bytes in a metadata key",
      createRequest({ metadata: { "k\uFFFD": "v" } }),
      "metadata.key",
      [0xed, 0xa0, 0x80],
    ],
    [
      "a Latin-1 byte in a metadata value",
      createRequest({ metadata: { k: "v\uFFFD" } }),
      "metadata.value",
      [0xe9, 0x20, 0x20],
    ],
    [
      "a Latin-1 byte in the card's cvc",
      createRequest({ card: { ...createRequest().card!, cvc: "1\uFFFD" } }),
      "card.cvc",
      [0xe9, 0x20, 0x20],
    ],
  ];
  for (const [name, req, field, bytes] of notUtf8)
    it(`refuses ${name}: INVALID_ARGUMENT validation_error naming ${field}, nothing queued`, async () => {
      const err = await failure(
        createRaw(client, req, (b) => replaceBytes(b, "\uFFFD", bytes), auth(alphaKey)),
      );
      expect(err.code, err.details).to.equal(status.INVALID_ARGUMENT);
      expect(err.rich).to.deep.include({ reason: "validation_error", domain: "switchyard" });
      expect(err.rich!.violations.map((v) => v.field)).to.deep.equal([field]);
      const id = paymentIdFor(platform.merchants[0]!.merchantId, req.idempotency_key!);
      const get = await failure(call((cb) => client.GetPayment({ payment_id: id }, auth(alphaKey), cb)));
      expect(get.code).to.equal(status.NOT_FOUND);
    });

  it("takes U+FFFD itself, sent as UTF-8 (EF BF BD): it is a character like any other", async () => {
    const req = createRequest({ reference: "order\uFFFDx" });
    const res = await call<Result>((cb) => client.CreatePayment(req, auth(alphaKey), cb));
    expect(res.payment!.reference).to.equal("order\uFFFDx");
  });
});
