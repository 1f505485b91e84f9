// The bench's outside world, in a process of its own: the PSPs a payment calls are other parties'
// machines, so their CPU is not Switchyard's (nor the bare flow's). One child serves both flows'
// PSPs — the product's simulated acme/bolt sandbox, as `npm start` and the Procfile run it, and the
// bare flow's minimal authorizer — and the bench reports its CPU per payment on a line of its own.
// Started by startOutside(); prints one JSON line ({ sandbox, bare }: the two base URLs) once both
// listen, and stops on SIGTERM or when its parent goes (stdin closes).
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { startSandbox } from "../sandbox-psp.ts";
import { procCpuMs } from "./procfile.ts";

export type Outside = {
  /** The simulated PSPs' base URL (SANDBOX_URL for the product). */
  sandboxUrl: string;
  /** The bare flow's PSP: POST /authorize answers {"status":"authorized"}. */
  bareUrl: string;
  /** The child's CPU so far (user + system, ms), or undefined once it is gone. */
  cpuMs(): number | undefined;
  stop(): Promise<void>;
};

const START_TIMEOUT_MS = 30_000;

/** The round line's note of the PSPs' CPU per payment (not billed to the flow). */
export function pspShare(before: number | undefined, after: number | undefined, completed: number): string {
  if (before === undefined || after === undefined || completed === 0) return "";
  return `; the PSPs' own process (not billed) ${((after - before) / completed).toFixed(2)} ms/payment`;
}

/** Starts the outside world's process and resolves once both PSPs listen (the embedded product keeps its sandbox). */
export async function startOutside(o: { slowCardDelayMs: number; retainCharges: number }): Promise<Outside> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
    env: {
      ...process.env,
      BENCH_OUTSIDE_SLOW_CARD_DELAY_MS: String(o.slowCardDelayMs),
      BENCH_OUTSIDE_RETAIN_CHARGES: String(o.retainCharges),
    },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await gone;
  };
  try {
    const urls = await new Promise<{ sandbox: string; bare: string }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("the bench's PSP process did not start")),
        START_TIMEOUT_MS,
      );
      void gone.then(() => reject(new Error("the bench's PSP process ended during start-up")));
      createInterface({ input: child.stdout }).once("line", (line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { sandbox: string; bare: string });
      });
    });
    const pid = child.pid ?? -1;
    return { sandboxUrl: urls.sandbox, bareUrl: urls.bare, cpuMs: () => procCpuMs(pid), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const sandbox = await startSandbox({
    host: "127.0.0.1",
    port: 0,
    slowCardDelayMs: Number(process.env.BENCH_OUTSIDE_SLOW_CARD_DELAY_MS ?? 10_000),
    retainCharges: Number(process.env.BENCH_OUTSIDE_RETAIN_CHARGES ?? 10_000),
  });
  // The bare flow's PSP: a minimal node:http server that reads the body and authorizes.
  const bare = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status":"authorized"}');
    });
  });
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
  const barePort = (bare.address() as AddressInfo).port;
  const stop = async () => {
    bare.closeAllConnections();
    bare.close();
    await sandbox.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
  // The parent gone (killed, say): stdin closes, and this process goes with it.
  process.stdin.once("close", () => void stop());
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ sandbox: sandbox.url, bare: `http://127.0.0.1:${barePort}` })}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
