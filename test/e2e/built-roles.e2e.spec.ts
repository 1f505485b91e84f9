// The production build (issue 19): `npm run build` compiles the roles to JavaScript, and the
// Procfile's four roles — gateway, worker, projector, sandbox — run from it as `node <out>/…` with no
// TypeScript loader, each its own OS process, from a directory outside the repository (so nothing
// read at run time is found in the sources by accident). One payment is created and captured
// through the built gateway and reaches the read model the built projector keeps. Nothing built may
// import a development dependency: the container image installs the production ones only.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cleanupRun, listAllPayments, paymentBody, testEnv, client, type Api } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { healthCheck } from "../support/grpc-client.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The Procfile's entry points, compiled. */
const ENTRY = {
  gateway: "gateway/main.js",
  worker: "actors/main.js",
  projector: "actors/projector-main.js",
  sandbox: "scripts/sandbox-main.js",
} as const;

/**
 * Plain node, no loader: NODE_OPTIONS emptied (mocha runs under tsx), and on a Node that strips types
 * by itself (22.18+) that switched off, so that a `.ts` module anywhere in the graph fails to load.
 */
const NO_LOADER = process.allowedNodeEnvironmentFlags.has("--no-experimental-strip-types")
  ? ["--no-experimental-strip-types"]
  : [];

type Role = {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** The first log line whose message starts with `msg`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
};

function runNode(args: string[], env: Record<string, string>, cwd: string): Role {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [...NO_LOADER, ...args], {
    cwd,
    env: { ...inherited, ...env, NODE_OPTIONS: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const logs: Record<string, unknown>[] = [];
  let partial = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  return {
    child,
    exited,
    stderr: () => stderr,
    waitForLog: (msg, timeoutMs = 30_000) =>
      waitFor(
        () => {
          const found = logs.find((l) => typeof l.msg === "string" && l.msg.startsWith(msg));
          if (found) return found;
          if (child.exitCode !== null || child.signalCode !== null)
            throw new Error(`${args.join(" ")} exited waiting for "${msg}": ${stderr}`);
          return undefined;
        },
        { timeoutMs, what: `"${msg}" from ${args.join(" ")}` },
      ),
  };
}

/** Every .js file under `dir`. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".js"))
    .map((f) => join(dir, f));
}

async function npmBuild(outDir: string): Promise<void> {
  const child = spawn("npm", ["run", "build", "--", "--out-dir", outDir], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`npm run build exited ${code}: ${output}`);
}

describe("the built roles: compiled JavaScript run by plain node (e2e)", function () {
  this.timeout(240_000);
  let home: string;
  let out: string;
  let env: Record<string, string>;
  const roles: Role[] = [];

  before(async () => {
    // As in the container image: the build and the production dependencies side by side, elsewhere.
    home = mkdtempSync(join(tmpdir(), "switchyard-built-"));
    out = join(home, "dist");
    await npmBuild(out);
    symlinkSync(join(ROOT, "node_modules"), join(home, "node_modules"));
    env = testEnv({ LOG_LEVEL: "info", SWITCHYARD_PROJECTOR_METRICS_PORT: "0" });
  });
  after(async () => {
    for (const r of roles)
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
    await Promise.all(roles.map((r) => r.exited));
    if (env) await cleanupRun(env);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("emits JavaScript only, importing neither tsx nor a .ts module, with every file it reads at run time", () => {
    const files = readdirSync(out, { recursive: true, encoding: "utf8" });
    expect(
      files.filter((f) => f.endsWith(".ts")),
      "TypeScript in the build",
    ).to.deep.equal([]);
    for (const entry of Object.values(ENTRY)) expect(files, entry).to.include(entry);
    // tsc writes each static import or re-export on one line of its own; dynamic ones anywhere.
    const specifier =
      /^(?:import|export)\b[^;\n]*?(?:from\s*|import\s*)["']([^"']+)["'];$|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
    // The literal start of a URL resolved against the module; `$` after it: a template goes on.
    const readAt = /new URL\(\s*["'`]([^"'`$]*)(.)/g;
    const dependencies = Object.keys(
      (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: object }).dependencies,
    );
    const packages = new Set<string>();
    let imports = 0;
    for (const file of jsFiles(out)) {
      const code = readFileSync(file, "utf8");
      const at = relative(out, file);
      for (const [, staticSpec, dynamicSpec] of code.matchAll(specifier)) {
        const spec = staticSpec ?? dynamicSpec;
        imports++;
        expect(spec, `${at} imports ${spec}`).not.to.match(/^tsx(\/|$)|^\.{1,2}\/.*\.[cm]?ts$/);
        if (spec!.startsWith(".") || spec!.startsWith("node:") || builtinModules.includes(spec!)) continue;
        packages.add(
          spec!
            .split("/")
            .slice(0, spec!.startsWith("@") ? 2 : 1)
            .join("/"),
        );
      }
      // A file read beside the module (new URL("../console/", import.meta.url)) must be in the build.
      for (const [, target, next] of code.matchAll(readAt)) {
        if (!target!.startsWith(".")) continue;
        const exact = next !== "$" || target!.endsWith("/");
        const path = resolve(dirname(file), exact ? target! : dirname(target!));
        expect(statSync(path, { throwIfNoEntry: false }), `${at} reads ${target}`).not.to.be.undefined;
      }
    }
    expect(imports, "import statements seen (the pattern still matches tsc's output)").to.be.greaterThan(500);
    // The image installs `dependencies` only (npm ci --omit=dev): nothing built may need a dev one.
    expect(
      [...packages].filter((p) => !dependencies.includes(p)),
      "packages imported by the build that are not production dependencies",
    ).to.deep.equal([]);
    expect(packages.size, "packages seen").to.be.greaterThan(10);
  });

  it("a .ts entry point fails under the same node invocation (no loader is present)", async () => {
    const ts = runNode([join(ROOT, "actors/main.ts")], env, home);
    const exit = await ts.exited;
    expect(exit.code).to.not.equal(0);
    expect(ts.stderr()).to.match(/ERR_UNKNOWN_FILE_EXTENSION|Unknown file extension "\.ts"/);
  });

  it("gateway, worker, projector and sandbox start from the build; a payment is created, captured and projected", async () => {
    const start = (role: keyof typeof ENTRY, extra: Record<string, string> = {}) => {
      const r = runNode([join(out, ENTRY[role])], { ...env, ...extra }, home);
      roles.push(r);
      return r;
    };
    const sandbox = start("sandbox");
    const sandboxUrl = (await sandbox.waitForLog("PSP sandbox listening")).url as string;
    env = { ...env, SANDBOX_URL: sandboxUrl };
    // As the Procfile runs them: the worker leaves the projections to the projector.
    const worker = start("worker", { SWITCHYARD_PROJECTIONS: "off" });
    const projector = start("projector");
    const gateway = start("gateway");
    await worker.waitForLog("worker consuming commands");
    await projector.waitForLog("projector following the streams");
    const url = (await gateway.waitForLog("gateway listening")).url as string;
    // The gRPC service's .proto is read from the build.
    const grpcAddress = (await gateway.waitForLog("gRPC server listening")).address as string;
    expect(await healthCheck(grpcAddress, "switchyard.v1.Payments")).to.equal("SERVING");

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status, await ready.text()).to.equal(200);
    // The console's page and scripts are read from the build.
    expect((await fetch(`${url}/console`)).status).to.equal(200);
    expect((await fetch(`${url}/console/assets/console.js`)).status).to.equal(200);
    // So is the NATS contract (the build's copy of schemas/).
    expect((await fetch(`${url}/asyncapi.json`)).status).to.equal(200);
    expect((await fetch(`${url}/schemas/command-envelope/1.json`)).status).to.equal(200);

    const api: Api = client(url, env.SWITCHYARD_BOOTSTRAP_KEYS!.split(",")[0]!.split(":")[1]!);
    const created = await api.post("/v1/payments", paymentBody({ capture: "manual", amount: 1234 }));
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body).to.include({ status: "authorized", amount: 1234 });
    const captured = await api.post(`/v1/payments/${created.body.id}/capture`, {});
    expect(captured.status, JSON.stringify(captured.body)).to.equal(200);
    expect(captured.body).to.include({ status: "captured", captured_amount: 1234 });
    // The projector (its migrations read from the build) lists it as captured.
    await waitFor(
      async () =>
        (await listAllPayments(api)).find((p) => p.id === created.body.id && p.status === "captured"),
      { timeoutMs: 30_000, what: "the captured payment in the merchant's list (the projector's read model)" },
    );

    // SIGTERM: each role stops on its own, cleanly.
    for (const r of [gateway, worker, projector, sandbox]) r.child.kill("SIGTERM");
    const exits = await Promise.all([gateway, worker, projector, sandbox].map((r) => r.exited));
    expect(exits).to.deep.equal(Array(4).fill({ code: 0, signal: null }));
  });
});
