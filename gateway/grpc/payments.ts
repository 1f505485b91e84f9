// The switchyard.v1.Payments handlers: each call is authenticated by the merchant key in its
// metadata (`authorization: Bearer sk_…`, gateway/auth.ts) and held to its scope, its request goes
// through the HTTP API's checks (convert.ts), and the shared operations (gateway/payment-service.ts)
// do the work. The call's deadline bounds the wait for the actor's reply. Every call ends in one log
// line and is counted by method and status code.
import { status as Status, type Metadata, type ServerWritableStream, type StatusObject } from "@grpc/grpc-js";
import { Scope } from "../../actors/merchants/core/keys.ts";
import { PAYMENT_ID_SHAPE } from "../../actors/payment/core/ids.ts";
import type { Logger } from "../../config/log.ts";
import type { MerchantAuthenticator } from "../auth.ts";
import { ApiError, validationError } from "../errors.ts";
import type { PaymentService } from "../payment-service.ts";
import { notFound, type CallContext, type Outcome } from "../payment-service.ts";
import { newTrace, parseTraceparent } from "../trace.ts";
import { amountBodyOf, createBodyOf, idempotencyKeyOf, paymentIdOf, toProtoPayment } from "./convert.ts";
import type { PaymentResult } from "./generated/switchyard/v1/PaymentResult.ts";
import type { PaymentsHandlers } from "./generated/switchyard/v1/Payments.ts";
import type { PaymentUpdate } from "./generated/switchyard/v1/PaymentUpdate.ts";
import type { WatchPaymentRequest__Output } from "./generated/switchyard/v1/WatchPaymentRequest.ts";
import type { GrpcMetrics } from "./metrics.ts";
import { asApiError, toGrpcStatus, type GrpcError } from "./status.ts";
import { NOT_UTF8 } from "./utf8-fields.ts";
import { PaymentWatch, type WatchDeps } from "./watch.ts";

/** The scope each method needs (the HTTP routes' in gateway/scopes.ts). */
const METHOD_SCOPES = {
  CreatePayment: Scope.paymentsWrite,
  GetPayment: Scope.paymentsRead,
  CapturePayment: Scope.paymentsWrite,
  RefundPayment: Scope.refundsWrite,
  CancelPayment: Scope.paymentsWrite,
  WatchPayment: Scope.paymentsRead,
} as const satisfies Record<keyof PaymentsHandlers, Scope>;
type Method = keyof typeof METHOD_SCOPES;

/** Answered before the client's deadline, so that the client gets our status and its details. */
const DEADLINE_MARGIN_MS = 100;

export type PaymentsGrpcDeps = {
  service: PaymentService;
  auth: MerchantAuthenticator;
  watch: WatchDeps;
  /** Open watches one merchant may hold on this gateway at once (RESOURCE_EXHAUSTED past it). */
  watchesPerMerchant: number;
  log: Logger;
  metrics: GrpcMetrics;
};

/** One call as it goes: who, what to log, when it started. */
type Call = { method: Method; started: number; fields: Record<string, string>; merchantId: string };

const REFUSED = {
  unknown: "a valid API key is required: authorization: Bearer <key>",
  expired: "key expired",
  revoked: "key revoked",
} as const;

export function paymentsHandlers(deps: PaymentsGrpcDeps): {
  handlers: PaymentsHandlers;
  closeWatches(): Promise<void>;
} {
  const { service } = deps;
  const watchesOf = new Map<string, number>();
  const openWatches = new Set<PaymentWatch>();
  let stopping = false;

  /** Authenticates the call (UNAUTHENTICATED / PERMISSION_DENIED otherwise). */
  function begin(method: Method, metadata: Metadata): Call {
    const call: Call = { method, started: performance.now(), fields: {}, merchantId: "" };
    const given = metadata.get("traceparent");
    const trace =
      (given.length === 1 && typeof given[0] === "string" && parseTraceparent(given[0])) || newTrace();
    call.fields.traceId = trace.traceId;
    call.fields.traceparent = trace.traceparent;
    const header = metadata.get("authorization");
    // Two keys are ambiguous: refused, as a repeated Authorization header is over HTTP.
    const who = deps.auth.identify(
      header.length === 1 && typeof header[0] === "string" ? header[0] : undefined,
    );
    if (!who.ok) throw new ApiError("unauthorized", REFUSED[who.reason]);
    call.merchantId = who.merchantId;
    call.fields.merchantId = who.merchantId;
    if (who.keyId !== null) call.fields.keyId = who.keyId;
    const needed = METHOD_SCOPES[method];
    if (!who.scopes.has(needed))
      throw new ApiError("insufficient_scope", `this key lacks the scope ${needed}`, {
        missing_scope: needed,
      });
    return call;
  }

  function end(call: Call, code: Status, error?: GrpcError, err?: unknown): void {
    const name = Status[code] ?? String(code);
    const seconds = (performance.now() - call.started) / 1000;
    deps.metrics.requests.inc({ method: call.method, code: name });
    deps.metrics.duration.observe({ method: call.method, code: name }, seconds);
    const { traceparent: _tp, ...fields } = call.fields;
    const line = { ...fields, method: call.method, code: name, ms: Math.round(seconds * 10_000) / 10 };
    // The error only: never the request, which may hold a card.
    if (code === Status.INTERNAL) deps.log.error({ ...line, err }, "grpc request failed");
    else deps.log.info(error ? { ...line, error: error.code } : line, "grpc request");
  }

  function contextOf(call: Call, idempotencyKey: string, waitMs?: number): CallContext {
    return {
      merchantId: call.merchantId,
      idempotencyKey,
      traceparent: call.fields.traceparent,
      log: { error: (obj, msg) => deps.log.error({ ...call.fields, ...obj, method: call.method }, msg) },
      waitMs,
    };
  }

  /** How long the actor's reply may be waited for: up to just before the call's deadline. */
  function waitOf(deadline: Date | number): number | undefined {
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    if (!Number.isFinite(at)) return undefined;
    return Math.max(0, at - Date.now() - DEADLINE_MARGIN_MS);
  }

  /** A unary method: begin, run, answer, end; whatever it threw becomes its status. */
  function unary<Req, Res>(
    method: Method,
    run: (call: Call, req: Req, waitMs: number | undefined) => Promise<Res>,
  ) {
    return (
      c: { request: Req; metadata: Metadata; getDeadline(): Date | number },
      callback: (err: Partial<StatusObject> | null, value?: Res) => void,
    ): void => {
      let call: Call = { method, started: performance.now(), fields: {}, merchantId: "" };
      void (async () => {
        try {
          call = begin(method, c.metadata);
          const waitMs = waitOf(c.getDeadline());
          // A command that could only be answered too late is not sent (a read still is).
          if (method !== "GetPayment" && waitMs !== undefined && waitMs <= 0)
            throw new GrpcRefusal(
              Status.DEADLINE_EXCEEDED,
              "deadline_exceeded",
              "the deadline leaves no time to wait for the payment; nothing was done",
              {},
            );
          refuseNotUtf8(c.request);
          const res = await run(call, c.request, waitMs);
          callback(null, res);
          end(call, Status.OK);
        } catch (thrown) {
          const { error, code } = failure(thrown);
          callback(toGrpcStatus(error, code));
          end(call, code ?? toGrpcStatus(error).code ?? Status.UNKNOWN, error, thrown);
        }
      })();
    };
  }

  /** An operation's answer; DEADLINE_EXCEEDED when the wait the deadline allowed ran out first. */
  function resultOf(call: Call, outcome: Outcome, waitMs: number | undefined): PaymentResult {
    if (outcome.noReply && waitMs !== undefined && waitMs < deps.service.replyWaitMs)
      throw new GrpcRefusal(
        Status.DEADLINE_EXCEEDED,
        "deadline_exceeded",
        "the deadline passed before the payment came to rest; the request is queued and will " +
          "complete: GetPayment or WatchPayment shows it",
        { payment_id: outcome.view.id },
      );
    call.fields.paymentId = outcome.view.id;
    return { payment: toProtoPayment(outcome.view), pending: outcome.pending };
  }

  const handlers: PaymentsHandlers = {
    CreatePayment: unary("CreatePayment", async (call, req, waitMs) => {
      const key = idempotencyKeyOf(req.idempotency_key);
      const body = createBodyOf(req);
      const envelope = service.createEnvelope(contextOf(call, key), body);
      call.fields.paymentId = envelope.command.paymentId;
      return resultOf(call, await service.create(contextOf(call, key, waitMs), envelope), waitMs);
    }),
    GetPayment: unary("GetPayment", async (call, req) => {
      const paymentId = paymentIdOf(req.payment_id);
      if (PAYMENT_ID_SHAPE.test(paymentId)) call.fields.paymentId = paymentId;
      const view = await service.own(contextOf(call, ""), paymentId);
      if (!view) throw notFound();
      return toProtoPayment(view);
    }),
    CapturePayment: unary("CapturePayment", async (call, req, waitMs) => {
      const key = idempotencyKeyOf(req.idempotency_key);
      const paymentId = paymentIdOf(req.payment_id);
      const body = amountBodyOf("capture", req.amount);
      const outcome = await service.followUp(contextOf(call, key, waitMs), paymentId, "capture", body);
      return resultOf(call, outcome, waitMs);
    }),
    RefundPayment: unary("RefundPayment", async (call, req, waitMs) => {
      const key = idempotencyKeyOf(req.idempotency_key);
      const paymentId = paymentIdOf(req.payment_id);
      const body = amountBodyOf("refund", req.amount);
      const outcome = await service.followUp(contextOf(call, key, waitMs), paymentId, "refund", body);
      return resultOf(call, outcome, waitMs);
    }),
    CancelPayment: unary("CancelPayment", async (call, req, waitMs) => {
      const key = idempotencyKeyOf(req.idempotency_key);
      const paymentId = paymentIdOf(req.payment_id);
      const outcome = await service.followUp(contextOf(call, key, waitMs), paymentId, "cancel", {});
      return resultOf(call, outcome, waitMs);
    }),
    WatchPayment: (stream) => void watch(stream),
  };

  async function watch(
    stream: ServerWritableStream<WatchPaymentRequest__Output, PaymentUpdate>,
  ): Promise<void> {
    let call: Call = { method: "WatchPayment", started: performance.now(), fields: {}, merchantId: "" };
    let w: PaymentWatch | undefined;
    let held = false;
    const cancelled = (): void => void w?.close();
    stream.on("cancelled", cancelled);
    try {
      call = begin("WatchPayment", stream.metadata);
      refuseNotUtf8(stream.request);
      const paymentId = paymentIdOf(stream.request.payment_id);
      if (PAYMENT_ID_SHAPE.test(paymentId)) call.fields.paymentId = paymentId;
      const open = watchesOf.get(call.merchantId) ?? 0;
      if (open >= deps.watchesPerMerchant)
        throw new GrpcRefusal(
          Status.RESOURCE_EXHAUSTED,
          "too_many_watches",
          `this merchant has ${open} watches open here, the most allowed`,
          { limit: deps.watchesPerMerchant },
        );
      watchesOf.set(call.merchantId, open + 1);
      held = true;
      deps.metrics.watches.inc();
      w = new PaymentWatch(deps.watch, paymentId);
      openWatches.add(w);
      await w.start(call.merchantId);
      for await (const u of w.updates()) {
        if (stream.cancelled) break;
        stream.write({ payment: toProtoPayment(u.view), event_count: u.eventCount });
      }
      if (stream.cancelled) end(call, Status.CANCELLED);
      else if (stopping)
        // Not the payment's end: the client watches again, on another gateway or after the restart.
        throw new GrpcRefusal(
          Status.UNAVAILABLE,
          "service_unavailable",
          "the gateway is stopping; watch again",
          {},
        );
      else {
        stream.end();
        end(call, Status.OK);
      }
    } catch (thrown) {
      if (stream.cancelled) end(call, Status.CANCELLED);
      else {
        const { error, code } = failure(thrown);
        const status = toGrpcStatus(error, code);
        stream.emit("error", status);
        end(call, status.code ?? Status.UNKNOWN, error, thrown);
      }
    } finally {
      stream.off("cancelled", cancelled);
      if (w) {
        openWatches.delete(w);
        await w.close().catch((err: unknown) => deps.log.warn({ err }, "watch consumer not deleted"));
      }
      if (held) {
        deps.metrics.watches.dec();
        const left = (watchesOf.get(call.merchantId) ?? 1) - 1;
        if (left > 0) watchesOf.set(call.merchantId, left);
        else watchesOf.delete(call.merchantId);
      }
    }
  }

  return {
    handlers,
    async closeWatches() {
      stopping = true;
      await Promise.all([...openWatches].map((w) => w.close()));
    },
  };
}

/** A refusal of the gRPC surface's own, outside the HTTP API's table (its code is the ErrorInfo reason). */
class GrpcRefusal extends Error implements GrpcError {
  override name = "GrpcRefusal";
  constructor(
    readonly status: Status,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** What was thrown, as our error and (when the table's would be wrong) the gRPC code to answer. */
function failure(thrown: unknown): { error: GrpcError; code?: Status } {
  if (thrown instanceof GrpcRefusal) return { error: thrown, code: thrown.status };
  return { error: asApiError(thrown) };
}

/** A request one of whose strings was not UTF-8 (utf8-fields.ts marked it): refused, naming the field. */
function refuseNotUtf8(request: unknown): void {
  const path = (request as { [NOT_UTF8]?: string } | null)?.[NOT_UTF8];
  if (path === undefined) return;
  throw validationError([
    { in: "body", path, code: "not_utf8", message: "not valid UTF-8: a proto3 string is UTF-8" },
  ]);
}
