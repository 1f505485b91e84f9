// An internal service in its own Node process with nothing of the repository but the package's
// client: test/e2e/fixtures/nats-client-process.ts, copied into a directory outside the repository
// whose node_modules links `switchyard` to it, run there, its JSON lines collected.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

type Line = Record<string, unknown> & { step: string };

/** Runs the service in `dir` with `env`; its JSON lines once it exits. */
export async function runService(
  dir: string,
  env: Record<string, string>,
): Promise<{ code: number | null; lines: Line[]; stderr: string }> {
  const child = spawn(
    process.execPath,
    // The TypeScript sources through the package's `source` condition (tsx loads them); a built
    // package (npm run build) is imported by its `import` condition, dist/, with plain node.
    ["--conditions=source", "--import", "tsx", join(dir, "service.ts")],
    { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  const lines = out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Line);
  return { code, lines, stderr };
}

/**
 * A directory outside the repository holding the service, `node_modules/switchyard` → the repository
 * (as `npm install <path>` would link it) and the tsx loader.
 */
export function serviceDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-client-service-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "switchyard"), "dir");
  // The TypeScript loader, as a service importing the sources would have it (not needed with dist/).
  symlinkSync(join(ROOT, "node_modules", "tsx"), join(dir, "node_modules", "tsx"), "dir");
  cpSync(join(ROOT, "test/e2e/fixtures/nats-client-process.ts"), join(dir, "service.ts"));
  return dir;
}
