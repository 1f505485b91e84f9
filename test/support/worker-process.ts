// A worker role as a real child process (`node --import tsx actors/main.ts`), as the Procfile runs
// it — or the projector (`actors/projector-main.ts`) — with its stdout JSON log lines captured so
// tests can wait on them and inspect them.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { waitFor } from "./wait.ts";

export type LogLine = Record<string, unknown> & { msg?: string; level?: number; paymentId?: string };
export type Exit = { code: number | null; signal: NodeJS.Signals | null };

export type WorkerProcess = {
  /** The name it was started under (worker-1 …), for what a test prints. */
  name: string;
  child: ChildProcess;
  /** Resolves once the role has started (the worker consumes commands); rejects if it exits first. */
  ready: Promise<void>;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<Exit>;
  /** Raw stdout lines so far (complete lines only). */
  lines(): string[];
  /** Those lines parsed as JSON; a line that is not JSON fails the test. */
  logs(): LogLine[];
  stderr(): string;
  /** Wait until a log line matches. */
  waitForLog(match: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** SIGKILL if still running (cleanup). */
  kill(): void;
};

export function startWorkerProcess(env: Record<string, string>, name = "worker"): WorkerProcess {
  return startRoleProcess("actors/main.ts", "worker consuming commands", env, name);
}

/** The projector role (actors/projector-main.ts): ready once it follows the streams. */
export function startProjectorProcess(env: Record<string, string>, name = "projector"): WorkerProcess {
  return startRoleProcess("actors/projector-main.ts", "projector following the streams", env, name);
}

function startRoleProcess(
  entry: string,
  readyMsg: string,
  env: Record<string, string>,
  name: string,
): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  // 'exit' can come before the last of stdout has been read: 'close' says every byte is in.
  const closed = once(child, "close").then(() => undefined);
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts.filter((l) => l.trim() !== ""));
  });
  const logs = (): LogLine[] =>
    lines.map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        throw new Error(`${name}: a stdout line is not JSON: ${l.slice(0, 200)}`);
      }
    });
  const waitForLog = (match: (l: LogLine) => boolean, what: string, timeoutMs = 15_000) =>
    waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          await closed;
          const found = logs().find(match);
          if (found) return found;
          throw new Error(
            `${name} exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}; ` +
              `its last lines: ${lines.slice(-3).join(" | ")}; stderr: ${stderr}`,
          );
        }
        return logs().find(match);
      },
      { timeoutMs, what: `${name}: ${what}` },
    );
  const ready = Promise.race([
    waitForLog((l) => l.msg === readyMsg, "start-up", 20_000).then(() => undefined),
    exited.then((e) => {
      throw new Error(`${name} exited during start-up (${e.code ?? e.signal}): ${stderr}`);
    }),
  ]);
  ready.catch(() => undefined); // observed by the test that awaits it
  return {
    name,
    child,
    ready,
    exited,
    lines: () => [...lines],
    logs,
    stderr: () => stderr,
    waitForLog,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
