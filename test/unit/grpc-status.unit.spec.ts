// The gRPC surface's pure parts: every error code of the gateway's table has a gRPC status that says
// what it means (never OK or UNKNOWN), the rich details survive a round trip through the standard
// google.rpc messages, proto fields are named as the proto names them, and GRPC_PORT is parsed.
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { status } from "@grpc/grpc-js";
import { ConfigError, loadConfig } from "../../config/env.ts";
import { createMetrics } from "../../config/metrics.ts";
import { grpcMetrics } from "../../gateway/grpc/metrics.ts";
import { ApiError, ERROR_CODES, ErrorStatus } from "../../gateway/errors.ts";
import { protoField } from "../../gateway/grpc/convert.ts";
import { decodeStatusDetails, DETAILS_KEY, grpcCodeOf, toGrpcStatus } from "../../gateway/grpc/status.ts";

describe("gRPC status mapping", () => {
  it("gives every error code a meaningful status, by its HTTP status where nothing more exact applies", () => {
    for (const code of ERROR_CODES) {
      const grpc = grpcCodeOf(code);
      expect([status.OK, status.UNKNOWN], code).not.to.include(grpc);
      const http = ErrorStatus[code] as number;
      if (http === 401) expect(grpc, code).to.equal(status.UNAUTHENTICATED);
      if (http === 403) expect(grpc, code).to.equal(status.PERMISSION_DENIED);
      if (http === 404) expect(grpc, code).to.equal(status.NOT_FOUND);
      if (http === 503) expect(grpc, code).to.equal(status.UNAVAILABLE);
      if (http === 400) expect(grpc, code).to.equal(status.INVALID_ARGUMENT);
    }
    expect(grpcCodeOf("idempotency_key_reused")).to.equal(status.ALREADY_EXISTS);
    expect(grpcCodeOf("invalid_state_transition")).to.equal(status.FAILED_PRECONDITION);
    expect(grpcCodeOf("operation_in_progress")).to.equal(status.ABORTED);
    expect(grpcCodeOf("internal_error")).to.equal(status.INTERNAL);
  });

  it("carries the code, the scalar details and each field violation in grpc-status-details-bin", () => {
    const err = new ApiError("validation_error", "amount: too small (and 1 more)", {
      issues: [
        { in: "body", path: "amount", code: "too_small", message: "too small" },
        { in: "body", path: "card.cvc", code: "invalid_format", message: "cvc must be 3 or 4 digits" },
      ],
      supported: ["EUR", "USD"],
      limit: 3,
    });
    const s = toGrpcStatus(err);
    expect(s.code).to.equal(status.INVALID_ARGUMENT);
    const bytes = s.metadata!.get(DETAILS_KEY)[0];
    expect(Buffer.isBuffer(bytes)).to.equal(true);
    const decoded = decodeStatusDetails(bytes as Buffer);
    expect(decoded).to.deep.include({
      code: status.INVALID_ARGUMENT,
      message: err.message,
      reason: "validation_error",
      domain: "switchyard",
      metadata: { supported: "EUR,USD", limit: "3" },
    });
    expect(decoded.violations).to.deep.equal([
      { field: "amount", description: "too small" },
      { field: "card.cvc", description: "cvc must be 3 or 4 digits" },
    ]);
  });

  it("names the proto's fields, not the HTTP body's", () => {
    expect(protoField("payment_method.card.number")).to.equal("card.number");
    expect(protoField("payment_method.return_url")).to.equal("return_url");
    expect(protoField("payment_method")).to.equal("card");
    expect(protoField("metadata.[key]")).to.equal("metadata.[key]");
  });
});

describe("gRPC metrics", () => {
  it("are shared by a second gRPC server on the same registry instead of failing to register", () => {
    const metrics = createMetrics();
    const first = grpcMetrics(metrics);
    const second = grpcMetrics(metrics);
    expect(second.requests).to.equal(first.requests);
    expect(second.watches).to.equal(first.watches);
  });
});

describe("GRPC_PORT and its TLS files", () => {
  it("defaults to 50051, takes 0 and off, refuses anything else", () => {
    expect(loadConfig({}).grpc.port).to.equal(50051);
    expect(loadConfig({ GRPC_PORT: "0" }).grpc.port).to.equal(0);
    expect(loadConfig({ GRPC_PORT: "off" }).grpc.port).to.equal(undefined);
    expect(() => loadConfig({ GRPC_PORT: "70000" })).to.throw(ConfigError, /GRPC_PORT/);
    expect(() => loadConfig({ GRPC_PORT: "of" })).to.throw(ConfigError, /GRPC_PORT/);
  });

  it("wants the certificate and the key together, both existing files", () => {
    expect(() => loadConfig({ GRPC_TLS_CERT: fileURLToPath(import.meta.url) })).to.throw(
      ConfigError,
      /GRPC_TLS_KEY/,
    );
    expect(() => loadConfig({ GRPC_TLS_CERT: "/nope.pem", GRPC_TLS_KEY: "/nope.key" })).to.throw(
      ConfigError,
      /no such file/,
    );
    expect(loadConfig({}).grpc.tls).to.equal(undefined);
  });
});
