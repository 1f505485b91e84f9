// The gateway's gRPC server: switchyard.v1.Payments (payments.ts), the standard health service
// (grpc.health.v1.Health: the overall status '' and switchyard.v1.Payments SERVING while NATS is
// connected, NOT_SERVING otherwise) and server reflection (v1 and v1alpha), on its own port, h2c by
// default (TLS is the deployment's: a proxy or mesh in front) or TLS with GRPC_TLS_CERT/KEY.
import { readFileSync } from "node:fs";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { HealthImplementation, protoPath as healthProto } from "grpc-health-check";
import { ReflectionService } from "@grpc/reflection";
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import type { MerchantAuthenticator } from "../auth.ts";
import type { PaymentServiceDeps } from "../payment-service.ts";
import { PaymentService } from "../payment-service.ts";
import type { PaymentsDefinition } from "./generated/switchyard/v1/Payments.ts";
import { grpcMetrics } from "./metrics.ts";
import { paymentsHandlers } from "./payments.ts";
import { loadPaymentsPackage, PAYMENTS_SERVICE } from "./proto.ts";
import { strictUtf8Requests, type MessageDescriptor } from "./utf8-fields.ts";
import type { WatchDeps } from "./watch.ts";

/** How often the health status follows the NATS connection. */
const HEALTH_POLL_MS = 1_000;
/** The largest request message taken (the HTTP API's default body limit). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** A graceful stop waits this long for calls in flight, then cuts them. */
const STOP_GRACE_MS = 5_000;

export type GrpcConfig = {
  host: string;
  /** 0: any free port (tests). */
  port: number;
  watchesPerMerchant: number;
  tls?: { certFile: string; keyFile: string } | undefined;
};

export type GrpcServerDeps = PaymentServiceDeps & {
  auth: MerchantAuthenticator;
  watch: WatchDeps;
  /** Whether the platform can serve now (NATS connected). */
  serving: () => boolean;
  metrics: Metrics;
  log: Logger;
};

export type GrpcServer = { address: string; port: number; stop(): Promise<void> };

export async function startGrpcServer(config: GrpcConfig, deps: GrpcServerDeps): Promise<GrpcServer> {
  const definition = loadPaymentsPackage();
  // Strings that are not UTF-8 are marked as the request is decoded, and refused by the handler.
  const typeOf = (name: string) => (definition[name] as { type?: MessageDescriptor } | undefined)?.type;
  strictUtf8Requests(
    definition[PAYMENTS_SERVICE] as unknown as Parameters<typeof strictUtf8Requests>[0],
    typeOf,
    PAYMENTS_SERVICE.slice(0, PAYMENTS_SERVICE.lastIndexOf(".")),
  );
  // The HTTP API's body limit: a request is a payment, not a file; a larger one is refused by
  // grpc-js (RESOURCE_EXHAUSTED) before it is decoded.
  // Pings on each connection every minute: a client gone without a word (its machine or network
  // lost) is noticed within 80 s, and its watches end and free their consumers then, not hours later.
  const server = new Server({
    "grpc.max_receive_message_length": MAX_REQUEST_BYTES,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
  });
  const payments = paymentsHandlers({
    service: new PaymentService(deps),
    auth: deps.auth,
    watch: deps.watch,
    watchesPerMerchant: config.watchesPerMerchant,
    log: deps.log,
    metrics: grpcMetrics(deps.metrics),
  });
  server.addService(definition[PAYMENTS_SERVICE] as unknown as PaymentsDefinition, payments.handlers);

  const health = new HealthImplementation({ "": "NOT_SERVING", [PAYMENTS_SERVICE]: "NOT_SERVING" });
  let serving: boolean | undefined;
  const follow = (): void => {
    const now = deps.serving();
    if (now === serving) return;
    serving = now;
    for (const name of ["", PAYMENTS_SERVICE]) health.setStatus(name, now ? "SERVING" : "NOT_SERVING");
  };
  follow();
  const poll = setInterval(follow, HEALTH_POLL_MS);
  poll.unref();
  health.addToServer(server);
  // Reflection describes what it is given: our service and the health service beside it.
  new ReflectionService({ ...definition, ...loadSync(healthProto) }).addToServer(server);

  const credentials = config.tls
    ? ServerCredentials.createSsl(null, [
        { cert_chain: readFileSync(config.tls.certFile), private_key: readFileSync(config.tls.keyFile) },
      ])
    : ServerCredentials.createInsecure();
  const host = config.host.includes(":") && !config.host.startsWith("[") ? `[${config.host}]` : config.host;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:${config.port}`, credentials, (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
  } catch (err) {
    clearInterval(poll);
    server.forceShutdown();
    throw err;
  }
  return {
    address: `${host}:${port}`,
    port,
    async stop() {
      clearInterval(poll);
      for (const name of ["", PAYMENTS_SERVICE]) health.setStatus(name, "NOT_SERVING");
      // Watches never end by themselves: closed first, so that the graceful stop has only unary calls to wait for.
      await payments.closeWatches();
      await new Promise<void>((resolve) => {
        const cut = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, STOP_GRACE_MS);
        cut.unref();
        server.tryShutdown(() => {
          clearTimeout(cut);
          resolve();
        });
      });
    },
  };
}
