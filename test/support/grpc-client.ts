// A gRPC client of the gateway built from the generated types (gateway/grpc/generated/) over real
// HTTP/2: promise wrappers for the unary methods, a watch that collects its updates, the health and
// reflection clients, and the decoding of a failed call's rich status.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type CallOptions,
  type ServiceError,
  type GrpcObject,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import type { MessageTypeDefinition } from "@grpc/proto-loader";
import { loadPaymentsPackage } from "../../gateway/grpc/proto.ts";
import { decodeStatusDetails, DETAILS_KEY, type DecodedStatus } from "../../gateway/grpc/status.ts";
import type { ProtoGrpcType } from "../../gateway/grpc/generated/payments.ts";
import type { PaymentsClient } from "../../gateway/grpc/generated/switchyard/v1/Payments.ts";
import type { PaymentUpdate__Output } from "../../gateway/grpc/generated/switchyard/v1/PaymentUpdate.ts";
import type { PaymentResult__Output } from "../../gateway/grpc/generated/switchyard/v1/PaymentResult.ts";
import type { CreatePaymentRequest } from "../../gateway/grpc/generated/switchyard/v1/CreatePaymentRequest.ts";
import { CARDS } from "./platform.ts";

export type { PaymentsClient };

export function paymentsClient(address: string): PaymentsClient {
  const pkg = loadPackageDefinition(loadPaymentsPackage()) as unknown as ProtoGrpcType;
  return new pkg.switchyard.v1.Payments(address, credentials.createInsecure());
}

/** Metadata carrying `authorization: Bearer <key>` (none for null). */
export function auth(key: string | null): Metadata {
  const md = new Metadata();
  if (key !== null) md.set("authorization", `Bearer ${key}`);
  return md;
}

type Callback<T> = (err: ServiceError | null, value?: T) => void;

/** A unary call as a promise: `call((cb) => client.GetPayment(req, md, cb))`. */
export function call<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value as T))));
}

/** The failed call's error, or a failure when it succeeded. */
export async function failure(
  p: Promise<unknown>,
): Promise<ServiceError & { rich: DecodedStatus | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = err as ServiceError;
    const bytes = e.metadata?.get(DETAILS_KEY)[0];
    return Object.assign(e, { rich: Buffer.isBuffer(bytes) ? decodeStatusDetails(bytes) : undefined });
  }
  throw new Error("the call succeeded; a failure was expected");
}

export function withDeadline(ms: number): CallOptions {
  return { deadline: new Date(Date.now() + ms) };
}

export function createRequest(overrides: Partial<CreatePaymentRequest> = {}): CreatePaymentRequest {
  return {
    idempotency_key: randomBytes(8).toString("hex"),
    amount: 2500,
    currency: "EUR",
    capture: "manual",
    card: { number: CARDS.success, exp_month: 12, exp_year: 2030, cvc: "123" },
    reference: "order-grpc",
    ...overrides,
  };
}

/** A watch: every update as it arrives, the stream's end, and a way to cancel it. */
export type Watch = {
  updates: PaymentUpdate__Output[];
  /** Resolves when the stream ends: null for OK, the error otherwise (CANCELLED after cancel()). */
  ended: Promise<ServiceError | null>;
  cancel(): void;
};

export function watch(
  client: PaymentsClient,
  paymentId: string,
  md: Metadata,
  opts: CallOptions = {},
): Watch {
  const stream = client.WatchPayment({ payment_id: paymentId }, md, opts);
  const updates: PaymentUpdate__Output[] = [];
  stream.on("data", (u: PaymentUpdate__Output) => updates.push(u));
  const ended = new Promise<ServiceError | null>((resolve) => {
    stream.on("error", (err: ServiceError) => resolve(err));
    stream.on("end", () => resolve(null));
  });
  return { updates, ended, cancel: () => stream.cancel() };
}

function packageOf(protoFile: string, includeDirs: string[] = []): GrpcObject {
  return loadPackageDefinition(
    loadSync(protoFile, { keepCase: true, defaults: true, enums: String, includeDirs }),
  );
}

type Ctor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => Record<string, unknown>;

function service(pkg: GrpcObject, path: string): Ctor {
  let at: unknown = pkg;
  for (const part of path.split(".")) at = (at as Record<string, unknown>)[part];
  return at as Ctor;
}

/** grpc.health.v1.Health: the status of a service ('' for the server). */
export async function healthCheck(address: string, serviceName: string): Promise<string> {
  const Health = service(packageOf(healthProtoPath), "grpc.health.v1.Health");
  const client = new Health(address, credentials.createInsecure()) as unknown as {
    Check(req: { service: string }, cb: Callback<{ status: string }>): void;
    close(): void;
  };
  try {
    return (await call<{ status: string }>((cb) => client.Check({ service: serviceName }, cb))).status;
  } finally {
    client.close();
  }
}

/** The services the server's reflection lists (grpc.reflection.v1.ServerReflection). */
export async function reflectedServices(address: string): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve("@grpc/reflection/package.json")), "build/proto");
  const pkg = packageOf("grpc/reflection/v1/reflection.proto", [dir]);
  const Reflection = service(pkg, "grpc.reflection.v1.ServerReflection");
  const client = new Reflection(address, credentials.createInsecure()) as unknown as {
    ServerReflectionInfo(): NodeJS.ReadWriteStream & { end(): void; write(m: unknown): boolean };
    close(): void;
  };
  try {
    const stream = client.ServerReflectionInfo();
    const answer = new Promise<{ list_services_response?: { service: Array<{ name: string }> } }>(
      (resolve, reject) => {
        stream.on("data", resolve);
        stream.on("error", reject);
      },
    );
    stream.write({ list_services: "" });
    const res = await answer;
    stream.end();
    return (res.list_services_response?.service ?? []).map((s) => s.name);
  } finally {
    client.close();
  }
}

/**
 * A create whose encoded bytes `patch` may change before they are sent: what no well-behaved
 * client's encoder produces (a lone surrogate as the 3 bytes ED A0 80). Answers the decoded
 * PaymentResult, like `call`.
 */
export function createRaw(
  client: PaymentsClient,
  req: CreatePaymentRequest,
  patch: (bytes: Buffer) => Buffer,
  md: Metadata,
): Promise<PaymentResult__Output> {
  const pkg = loadPaymentsPackage();
  const request = pkg["switchyard.v1.CreatePaymentRequest"] as MessageTypeDefinition<
    CreatePaymentRequest,
    unknown
  >;
  const result = pkg["switchyard.v1.PaymentResult"] as MessageTypeDefinition<unknown, PaymentResult__Output>;
  const bytes = patch(request.serialize(req));
  return call<PaymentResult__Output>((cb) =>
    client.makeUnaryRequest(
      "/switchyard.v1.Payments/CreatePayment",
      (b: Buffer) => b,
      (b: Buffer) => result.deserialize(b),
      bytes,
      md,
      cb,
    ),
  );
}

/** `text`'s UTF-8 bytes in `bytes` replaced by `by` (same length, so no length prefix changes). */
export function replaceBytes(bytes: Buffer, text: string, by: number[]): Buffer {
  const at = bytes.indexOf(Buffer.from(text, "utf8"));
  if (at < 0) throw new Error(`${text} is not in the encoded request`);
  const out = Buffer.from(bytes);
  Buffer.from(by).copy(out, at);
  return out;
}
