// JSON log lines on stdout are buffered (config/log-format.ts): a burst is written in a few system
// calls, not one per line; a single line still comes out within LOG_FLUSH_MS; nothing is lost on a
// normal exit; LOG_FLUSH_MS=0 writes each line at once. Each case is a real child process whose
// stdout is a pipe (what a supervisor gives a role), counting its own writes to fd 1.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { expect } from "chai";

const CHILD = `
import fs from "node:fs";
let writes = 0;
for (const name of ["write", "writeSync"]) {
  const plain = fs[name];
  fs[name] = function (fd, ...rest) { if (fd === 1) writes++; return plain.call(this, fd, ...rest); };
}
const { createLogger } = await import("./config/log.ts");
const log = createLogger("info", { role: "test" });
const lines = Number(process.env.LINES);
const gap = Number(process.env.GAP_MS ?? 0);
for (let i = 0; i < lines; i++) {
  log.info({ i }, "line");
  if (gap > 0) await new Promise((r) => setTimeout(r, gap));
}
process.on("exit", () => process.stderr.write("writes=" + writes + "\\n"));
if (process.env.STAY) setTimeout(() => process.exit(0), Number(process.env.STAY)); else process.exit(0);
`;

type Run = { lines: string[]; writes: number; firstLineMs: number | undefined };

async function run(env: Record<string, string>): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", CHILD], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let firstLineMs: number | undefined;
  child.stdout.on("data", (d: Buffer) => {
    firstLineMs ??= performance.now() - started;
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  await once(child, "close");
  const writes = Number(/writes=(\d+)/.exec(err)?.[1] ?? NaN);
  return { lines: out.split("\n").filter((l) => l !== ""), writes, firstLineMs };
}

describe("log lines on a pipe", function () {
  this.timeout(60_000);

  it("writes a burst of 500 lines in a few writes, and every line is there after exit", async () => {
    const r = await run({ LINES: "500" });
    expect(r.lines).to.have.length(500);
    expect(JSON.parse(r.lines[499]!)).to.include({ i: 499, msg: "line" });
    expect(r.writes).to.be.greaterThan(0).and.below(50);
  });

  it("writes a lone line within LOG_FLUSH_MS while the process goes on", async () => {
    // The process stays 3 s: the line must come long before, from the periodic flush.
    const r = await run({ LINES: "1", STAY: "3000", LOG_FLUSH_MS: "50" });
    expect(r.lines).to.have.length(1);
    expect(r.firstLineMs).to.be.below(2_500);
  });

  // One client: a payment's lines come milliseconds apart, each alone. pino's default (LOG_FLUSH_MS=0)
  // writes each as it comes; buffered, they share writes.
  it("writes lines that come 5 ms apart together; LOG_FLUSH_MS=0 writes each on its own", async () => {
    const buffered = await run({ LINES: "40", GAP_MS: "5", LOG_FLUSH_MS: "100" });
    const each = await run({ LINES: "40", GAP_MS: "5", LOG_FLUSH_MS: "0" });
    expect(buffered.lines).to.have.length(40);
    expect(each.lines).to.have.length(40);
    expect(each.writes).to.be.at.least(30);
    expect(buffered.writes).to.be.below(each.writes / 3);
  });
});
