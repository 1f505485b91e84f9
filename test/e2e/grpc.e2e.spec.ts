// The gateway's gRPC surface end to end: a client built from the generated types, over real HTTP/2,
// against the whole platform (sandbox, worker, gateway; real NATS, Redis, PostgreSQL). The merchant
// flow, a watch that sees the payment change as it happens, deadlines, auth, health, reflection.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { capturingLogger } from "../support/log-capture.ts";
import { lintExposition } from "../support/prometheus.ts";
import { CARDS, startTestPlatform, testEnv, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import {
  auth,
  call,
  createRequest,
  failure,
  healthCheck,
  paymentsClient,
  reflectedServices,
  watch,
  withDeadline,
  type PaymentsClient,
} from "../support/grpc-client.ts";
import type { Payment__Output } from "../../gateway/grpc/generated/switchyard/v1/Payment.ts";
import type { PaymentResult__Output as Result } from "../../gateway/grpc/generated/switchyard/v1/PaymentResult.ts";

describe("payments over gRPC (e2e)", function () {
  this.timeout(30_000);
  let platform: TestPlatform;
  let client: PaymentsClient;
  let alphaKey: string;
  let betaKey: string;
  const captured = capturingLogger("info");

  before(async () => {
    platform = await startTestPlatform({
      env: testEnv({ SWITCHYARD_GRPC_WATCHES_PER_MERCHANT: "3" }),
      log: captured.log,
    });
    client = paymentsClient(platform.grpcAddress!);
    alphaKey = platform.merchants[0]!.key;
    betaKey = platform.merchants[1]!.key;
  });
  after(async () => {
    client?.close();
    await platform?.cleanup();
  });

  const alpha = () => auth(alphaKey);
  const get = (id: string) =>
    call<Payment__Output>((cb) => client.GetPayment({ payment_id: id }, alpha(), cb));
  const until = (id: string, what: string, ok: (p: Payment__Output) => boolean) =>
    waitFor(
      async () => {
        const p = await get(id);
        return ok(p) ? p : undefined;
      },
      { timeoutMs: 15_000, what },
    );
  const consumersOnEvents = async () => {
    const { jsm, topo } = platform.infra!;
    const names: string[] = [];
    for await (const c of jsm.consumers.list(topo.eventStream)) names.push(c.name);
    return names.filter((n) => n.startsWith("watch_"));
  };

  describe("the merchant flow", () => {
    it("creates, captures part and refunds part, as the HTTP API sees it too", async () => {
      const created = await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      expect(created.pending).to.equal(false);
      expect(created.payment).to.deep.include({ status: "authorized", amount: 2500, currency: "EUR" });
      expect(created.payment!.card).to.deep.include({ brand: "visa", last4: "4242" });
      expect(JSON.stringify(created)).not.to.contain(CARDS.success);
      const id = created.payment!.id;

      expect((await get(id)).status).to.equal("authorized");
      const capture = await call<Result>((cb) =>
        client.CapturePayment({ idempotency_key: "cap-1", payment_id: id, amount: 1500 }, alpha(), cb),
      );
      expect(capture.payment).to.deep.include({ status: "captured", captured_amount: 1500 });
      const refund = await call<Result>((cb) =>
        client.RefundPayment({ idempotency_key: "ref-1", payment_id: id, amount: 500 }, alpha(), cb),
      );
      expect(refund.payment).to.deep.include({ status: "partially_refunded", refunded_amount: 500 });

      const http = await platform.api(platform.merchants[0]!).get(`/v1/payments/${id}`);
      expect(http.body).to.include({
        status: "partially_refunded",
        captured_amount: 1500,
        refunded_amount: 500,
      });
    });

    it("answers a repeated create with the same payment, and another request under that key ALREADY_EXISTS", async () => {
      const req = createRequest();
      const first = await call<Result>((cb) => client.CreatePayment(req, alpha(), cb));
      const again = await call<Result>((cb) => client.CreatePayment(req, alpha(), cb));
      expect(again.payment!.id).to.equal(first.payment!.id);
      expect(platform.sandbox!.charges({ reference: first.payment!.id })).to.have.length(1);
      const other = await failure(
        call<Result>((cb) => client.CreatePayment({ ...req, amount: 999 }, alpha(), cb)),
      );
      expect(other.code).to.equal(status.ALREADY_EXISTS);
      expect(other.rich).to.deep.include({ reason: "idempotency_key_reused", domain: "switchyard" });
    });

    it("is the same request over HTTP and gRPC under one key: one payment", async () => {
      const key = randomBytes(8).toString("hex");
      const viaGrpc = await call<Result>((cb) =>
        client.CreatePayment(createRequest({ idempotency_key: key }), alpha(), cb),
      );
      const viaHttp = await platform.api(platform.merchants[0]!).post(
        "/v1/payments",
        {
          amount: 2500,
          currency: "EUR",
          capture: "manual",
          payment_method: {
            type: "card",
            card: { number: CARDS.success, exp_month: 12, exp_year: 2030, cvc: "123" },
          },
          reference: "order-grpc",
        },
        key,
      );
      expect(viaHttp.status).to.equal(201);
      expect(viaHttp.body.id).to.equal(viaGrpc.payment!.id);
    });

    it("cancels an authorization", async () => {
      const created = await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      const canceled = await call<Result>((cb) =>
        client.CancelPayment({ idempotency_key: "c-1", payment_id: created.payment!.id }, alpha(), cb),
      );
      expect(canceled.payment!.status).to.equal("canceled");
    });
  });

  describe("WatchPayment", () => {
    it("streams the state now, then capture and refund as they happen; a cancelled watch leaves no consumer", async () => {
      const created = await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      const id = created.payment!.id;
      const w = watch(client, id, alpha());
      await waitFor(() => w.updates.length >= 1, { timeoutMs: 5_000, what: "the first update" });
      expect(w.updates[0]!.payment!.status).to.equal("authorized");
      expect(await consumersOnEvents()).to.have.length(1);

      await call<Result>((cb) =>
        client.CapturePayment({ idempotency_key: "k1", payment_id: id, amount: 2000 }, alpha(), cb),
      );
      await waitFor(() => w.updates.some((u) => u.payment!.status === "captured"), {
        timeoutMs: 10_000,
        what: "the capture on the watch",
      });
      await call<Result>((cb) =>
        client.RefundPayment({ idempotency_key: "k2", payment_id: id, amount: 700 }, alpha(), cb),
      );
      await waitFor(() => w.updates.some((u) => u.payment!.status === "partially_refunded"), {
        timeoutMs: 10_000,
        what: "the refund on the watch",
      });
      const statuses = w.updates.map((u) => u.payment!.status);
      expect(statuses.indexOf("authorized")).to.be.below(statuses.indexOf("captured"));
      expect(statuses.indexOf("captured")).to.be.below(statuses.indexOf("partially_refunded"));
      const last = w.updates.at(-1)!;
      expect(last.payment).to.deep.include({ captured_amount: 2000, refunded_amount: 700 });
      const counts = w.updates.map((u) => u.event_count);
      expect(counts).to.deep.equal([...counts].sort((a, b) => a - b));

      w.cancel();
      expect((await w.ended)?.code).to.equal(status.CANCELLED);
      await waitFor(async () => (await consumersOnEvents()).length === 0, {
        timeoutMs: 5_000,
        what: "the watch's consumer to be deleted",
      });
      await waitFor(
        async () =>
          (await platform.metrics.registry.getSingleMetric("switchyard_grpc_watches")!.get()).values[0]
            ?.value === 0,
        {
          timeoutMs: 5_000,
          what: "no open watch counted",
        },
      );
    });

    it("ends the stream after a final status", async () => {
      const created = await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      const id = created.payment!.id;
      const w = watch(client, id, alpha());
      await waitFor(() => w.updates.length >= 1, { timeoutMs: 5_000, what: "the first update" });
      await call<Result>((cb) => client.CancelPayment({ idempotency_key: "x", payment_id: id }, alpha(), cb));
      expect(await w.ended).to.equal(null);
      expect(w.updates.at(-1)!.payment!.status).to.equal("canceled");
      await waitFor(async () => (await consumersOnEvents()).length === 0, {
        timeoutMs: 5_000,
        what: "no consumer",
      });
    });

    it("answers NOT_FOUND for an unknown payment and for another merchant's", async () => {
      const created = await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      const unknown = watch(client, "pay_000000000000000000000000", alpha());
      expect((await unknown.ended)?.code).to.equal(status.NOT_FOUND);
      const other = watch(client, created.payment!.id, auth(betaKey));
      const err = await other.ended;
      expect(err?.code).to.equal(status.NOT_FOUND);
      expect(other.updates).to.have.length(0);
      expect(await consumersOnEvents()).to.have.length(0);
    });

    it("refuses a watch past the merchant's limit with RESOURCE_EXHAUSTED, and takes one again once one ends", async () => {
      const created = await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      const id = created.payment!.id;
      const open = [watch(client, id, alpha()), watch(client, id, alpha()), watch(client, id, alpha())];
      await waitFor(() => open.every((w) => w.updates.length >= 1), {
        timeoutMs: 5_000,
        what: "three watches",
      });
      const fourth = watch(client, id, alpha());
      const err = await fourth.ended;
      expect(err?.code).to.equal(status.RESOURCE_EXHAUSTED);
      // Another merchant's allowance is its own.
      const beta = await call<Result>((cb) => client.CreatePayment(createRequest(), auth(betaKey), cb));
      const betaWatch = watch(client, beta.payment!.id, auth(betaKey));
      await waitFor(() => betaWatch.updates.length >= 1, { timeoutMs: 5_000, what: "beta's watch" });
      betaWatch.cancel();
      open[0]!.cancel();
      await open[0]!.ended;
      await waitFor(async () => (await consumersOnEvents()).length === 2, {
        timeoutMs: 5_000,
        what: "two left",
      });
      const again = watch(client, id, alpha());
      await waitFor(() => again.updates.length >= 1, { timeoutMs: 5_000, what: "a watch again" });
      for (const w of [again, open[1]!, open[2]!]) w.cancel();
      await waitFor(async () => (await consumersOnEvents()).length === 0, {
        timeoutMs: 5_000,
        what: "none left",
      });
    });
  });

  describe("deadlines", () => {
    it("answers DEADLINE_EXCEEDED when the payment is not at rest by the deadline; the payment still completes", async () => {
      const key = randomBytes(8).toString("hex");
      const req = createRequest({
        idempotency_key: key,
        card: { number: CARDS.slow, exp_month: 12, exp_year: 2030, cvc: "123" },
      });
      const started = Date.now();
      const err = await failure(
        call<Result>((cb) => client.CreatePayment(req, alpha(), withDeadline(400), cb)),
      );
      expect(err.code).to.equal(status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).to.be.below(1_500);
      const id = paymentIdFor(platform.merchants[0]!.merchantId, key);
      if (err.rich) expect(err.rich.metadata.payment_id).to.equal(id);
      const done = await until(id, "the slow payment to be authorized", (p) => p.status === "authorized");
      expect(done.attempts).to.have.length(1);
    });

    it("sends nothing when the deadline leaves no time to wait", async () => {
      const req = createRequest();
      const err = await failure(
        call<Result>((cb) => client.CreatePayment(req, alpha(), withDeadline(50), cb)),
      );
      expect(err.code).to.equal(status.DEADLINE_EXCEEDED);
      const id = paymentIdFor(platform.merchants[0]!.merchantId, req.idempotency_key!);
      expect((await failure(get(id))).code).to.equal(status.NOT_FOUND);
      // Reads are still answered within a short deadline.
      const created = await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      const read = await call<Payment__Output>((cb) =>
        client.GetPayment({ payment_id: created.payment!.id }, alpha(), withDeadline(80), cb),
      );
      expect(read.id).to.equal(created.payment!.id);
    });

    it("ends a watch at its deadline and deletes its consumer", async () => {
      const created = await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      const w = watch(client, created.payment!.id, alpha(), withDeadline(500));
      expect((await w.ended)?.code).to.equal(status.DEADLINE_EXCEEDED);
      expect(w.updates).to.have.length(1);
      await waitFor(async () => (await consumersOnEvents()).length === 0, {
        timeoutMs: 5_000,
        what: "no consumer",
      });
    });
  });

  describe("auth", () => {
    it("answers UNAUTHENTICATED without a key, with a wrong key and with another scheme", async () => {
      const req = createRequest();
      const basic = new Metadata();
      basic.set("authorization", `Basic ${Buffer.from(`m_alpha:${alphaKey}`).toString("base64")}`);
      // (Two authorization values cannot be sent: grpc-js refuses them in the client already.)
      for (const md of [auth(null), auth(`sk_test_${randomBytes(12).toString("hex")}`), basic]) {
        const err = await failure(call<Result>((cb) => client.CreatePayment(req, md, cb)));
        expect(err.code, err.message).to.equal(status.UNAUTHENTICATED);
        expect(err.rich?.reason).to.equal("unauthorized");
      }
      const w = watch(client, paymentIdFor("m_alpha", "x"), auth("Bearer nope"));
      expect((await w.ended)?.code).to.equal(status.UNAUTHENTICATED);
      // Nothing was created under the key.
      const notFound = await failure(
        get(paymentIdFor(platform.merchants[0]!.merchantId, req.idempotency_key!)),
      );
      expect(notFound.code).to.equal(status.NOT_FOUND);
    });
  });

  describe("health, reflection, metrics and logs", () => {
    it("says SERVING for the server and the Payments service, NOT_FOUND for others", async () => {
      expect(await healthCheck(platform.grpcAddress!, "")).to.equal("SERVING");
      expect(await healthCheck(platform.grpcAddress!, "switchyard.v1.Payments")).to.equal("SERVING");
      const err = await failure(healthCheck(platform.grpcAddress!, "nope.Service"));
      expect(err.code).to.equal(status.NOT_FOUND);
    });

    it("lists the services by reflection", async () => {
      const names = await reflectedServices(platform.grpcAddress!);
      expect(names).to.include.members(["switchyard.v1.Payments", "grpc.health.v1.Health"]);
    });

    it("counts calls by method and code, and logs one line per call without the card or the key", async () => {
      await call<Result>((cb) => client.CreatePayment(createRequest(), alpha(), cb));
      await failure(get("pay_000000000000000000000000"));
      const metric = await platform.metrics.registry.getSingleMetric("switchyard_grpc_requests_total")!.get();
      const count = (method: string, code: string) =>
        metric.values.find((v) => v.labels.method === method && v.labels.code === code)?.value ?? 0;
      expect(count("CreatePayment", "OK")).to.be.above(0);
      expect(count("GetPayment", "NOT_FOUND")).to.be.above(0);
      // The exposition (the gRPC families with it) passes promtool's rules.
      const exposition = await platform.metrics.registry.metrics();
      expect(exposition).to.contain("switchyard_grpc_request_duration_seconds_bucket");
      expect(lintExposition(exposition)).to.deep.equal([]);
      const lines = captured.lines.filter((l) => l.includes('"grpc request"'));
      expect(lines.some((l) => l.includes('"method":"CreatePayment"') && l.includes('"code":"OK"'))).to.equal(
        true,
      );
      const all = captured.lines.join("");
      expect(all).not.to.contain(CARDS.success);
      expect(all).not.to.contain(alphaKey);
    });
  });
});
