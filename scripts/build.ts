// `npm run build`: the production roles compiled to JavaScript (tsconfig.build.json), in dist/ or in
// the directory `--out-dir <dir>` names, with the files those roles read at run time beside the
// modules that read them (each resolves its files from its own import.meta.url). What is built runs
// with plain `node`, no TypeScript loader: the Procfile and deploy/Dockerfile run it so.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * Read at run time, not imported, so tsc does not emit them (relative to the repository root):
 * the read-model migrations (streams/db/migrate.ts), the seed policies (streams/policy-seed.ts and
 * the sandbox's fee table), the operators' console (gateway/routes/console.ts), the NATS contract's
 * committed schemas (gateway/routes/contract.ts; their fixtures stay behind) and the gRPC service's
 * .proto files (gateway/grpc/proto.ts).
 */
const RUNTIME_FILES = [
  "streams/db/migrations",
  "config/policies",
  "gateway/console",
  "schemas",
  "gateway/grpc/switchyard",
] as const;

/** Written in every output directory, so that a rebuild only ever empties a directory it built. */
const MARKER = ".switchyard-build";

function outDirOf(arg: string | undefined): string {
  const out = resolve(ROOT, arg ?? "dist");
  const rel = relative(out, ROOT);
  // The output must not hold the sources: emptying it would delete them.
  if (rel === "" || !rel.startsWith(".."))
    throw new Error(`--out-dir ${out}: must not be the repository or a directory above it`);
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, MARKER)))
    throw new Error(`--out-dir ${out}: not empty and not a previous build (no ${MARKER}); not emptied`);
  return out;
}

function build(out: string): void {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, MARKER), "built by scripts/build.ts; emptied by the next build\n");
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", out], {
    cwd: ROOT,
    stdio: "inherit",
  });
  for (const path of RUNTIME_FILES)
    cpSync(join(ROOT, path), join(out, path), {
      recursive: true,
      filter: (src) => !relative(ROOT, src).split(/[\\/]/).includes("fixtures"),
    });
  // The emitted modules are ESM wherever the directory goes (an out-dir has no package.json above it).
  writeFileSync(join(out, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
}

const { values } = parseArgs({ options: { "out-dir": { type: "string" } } });
try {
  const out = outDirOf(values["out-dir"]);
  build(out);
  process.stdout.write(`built ${relative(process.cwd(), out) || "."}\n`);
} catch (err) {
  // tsc has printed its own errors; anything else is said in one line.
  const status = (err as { status?: unknown }).status;
  if (typeof status !== "number") process.stderr.write(`build: ${(err as Error).message}\n`);
  process.exit(typeof status === "number" ? status : 1);
}
