// `npm run grpc:gen`: the TypeScript types of the gRPC service (gateway/grpc/generated/), generated
// from the .proto files by proto-loader-gen-types with the options the server loads them with.
// `npm run grpc:check` (part of `npm run verify`): generates into a temporary directory and fails,
// naming each file, when the committed types differ from what the .proto files generate now.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { GENERATOR_FLAGS, PAYMENTS_PROTO } from "../gateway/grpc/proto.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PROTO_DIR = "gateway/grpc";
const GENERATED = join(ROOT, "gateway/grpc/generated");

function generate(out: string): void {
  const bin = createRequire(import.meta.url).resolve(
    "@grpc/proto-loader/build/bin/proto-loader-gen-types.js",
  );
  // Relative paths, from the repository root: each file's "Original file" line is the same anywhere.
  execFileSync(process.execPath, [bin, ...GENERATOR_FLAGS, "-I", PROTO_DIR, "-O", out, PAYMENTS_PROTO], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Each committed file that differs from, lacks or adds to what generates now. */
function differences(fresh: string): string[] {
  const now = files(fresh);
  const committed = files(GENERATED);
  const out: string[] = [];
  for (const f of now) {
    if (!committed.includes(f)) out.push(`missing: gateway/grpc/generated/${f}`);
    else if (!readFileSync(join(fresh, f)).equals(readFileSync(join(GENERATED, f))))
      out.push(`stale: gateway/grpc/generated/${f}`);
  }
  for (const f of committed) if (!now.includes(f)) out.push(`not generated: gateway/grpc/generated/${f}`);
  return out;
}

if (process.argv.includes("--check")) {
  const tmp = mkdtempSync(join(tmpdir(), "switchyard-grpc-gen-"));
  try {
    generate(tmp);
    const diff = differences(tmp);
    if (diff.length > 0) {
      process.stderr.write(
        `grpc:check: the generated types are not what ${PROTO_DIR}/${PAYMENTS_PROTO} generates; run npm run grpc:gen\n` +
          diff.map((d) => `  ${d}\n`).join(""),
      );
      process.exitCode = 1;
    } else process.stdout.write("grpc:check: generated types are fresh\n");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  rmSync(GENERATED, { recursive: true, force: true });
  generate(GENERATED);
  process.stdout.write(`grpc:gen: ${files(GENERATED).length} files in gateway/grpc/generated\n`);
}
