// The gRPC service's definitions, loaded at run time from the .proto files beside this module (the
// build copies them into dist: scripts/build.ts), with the one set of loader options the generated
// types (gateway/grpc/generated/, `npm run grpc:gen`) are made with: the two must agree, or the
// types would describe other objects than the loader hands out.
import { fileURLToPath } from "node:url";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";

/** Where the .proto files live: their import root (`switchyard/v1/payments.proto`). */
export const PROTO_ROOT = fileURLToPath(new URL(".", import.meta.url));

export const PAYMENTS_PROTO = "switchyard/v1/payments.proto";

/** The fully-qualified service name (health checks and reflection name it so). */
export const PAYMENTS_SERVICE = "switchyard.v1.Payments";

/**
 * snake_case fields as in the HTTP API's JSON; 64-bit integers as numbers (amounts stay below 2^53:
 * a larger one is refused as the HTTP API refuses it); proto3 `optional` fields present only when set.
 */
export const LOADER_OPTIONS = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
} as const satisfies Options;

/** The same options as proto-loader-gen-types flags (scripts/grpc-gen.ts). */
export const GENERATOR_FLAGS = [
  "--keepCase",
  "--longs=Number",
  "--enums=String",
  "--defaults",
  "--oneofs",
  "--includeComments",
  "--grpcLib=@grpc/grpc-js",
  "--importFileExtension=.ts",
] as const;

export function loadPaymentsPackage(): PackageDefinition {
  return loadSync(PAYMENTS_PROTO, LOADER_OPTIONS);
}
