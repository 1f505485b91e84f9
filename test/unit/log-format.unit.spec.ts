// The terminal log format: pino's JSON lines, readable by a person, nothing added or revealed.
import { expect } from "chai";
import { pino } from "pino";
import { formatLogLine, prettyStream } from "../../config/log-format.ts";

describe("log format for a terminal", () => {
  const plain = { color: false };

  it("writes time, level, role and message first, then the other fields as key=value", () => {
    const line = JSON.stringify({
      level: 30,
      time: Date.UTC(2025, 0, 2, 12, 4, 5, 123),
      pid: 1,
      hostname: "h",
      service: "switchyard",
      role: "gateway",
      msg: "gateway listening",
      url: "http://127.0.0.1:8080",
      note: "two words",
    });
    // Role in a 7-wide column, then the message; pid, hostname and service are left out.
    expect(formatLogLine(line, plain)).to.equal(
      '12:04:05.123 INFO  gateway gateway listening  url=http://127.0.0.1:8080 note="two words"',
    );
  });

  it("puts an error's stack under its line, indented, and names warn and error levels", () => {
    const out = formatLogLine(
      JSON.stringify({
        level: 50,
        time: 0,
        msg: "request failed",
        err: { type: "Error", message: "boom", stack: "Error: boom\n    at x" },
      }),
      plain,
    );
    expect(out.split("\n")[0]).to.match(/ERROR request failed$/);
    expect(out.split("\n").slice(1)).to.deep.equal(["    Error: boom", "        at x"]);
    expect(formatLogLine(JSON.stringify({ level: 40, time: 0, msg: "m" }), plain)).to.include("WARN ");
  });

  it("passes a line that is not JSON through untouched, and colors only when asked", () => {
    expect(formatLogLine("plain text", plain)).to.equal("plain text");
    expect(formatLogLine(JSON.stringify({ level: 30, time: 0, msg: "m" }), { color: true })).to.include(
      "\x1b[",
    );
    expect(formatLogLine(JSON.stringify({ level: 30, time: 0, msg: "m" }), plain)).not.to.include("\x1b[");
  });

  it("keeps pino's redaction: a redacted card number stays redacted in the formatted line", () => {
    const written: string[] = [];
    const sink = { write: (s: string) => written.push(s) } as unknown as NodeJS.WritableStream;
    const log = pino({ redact: { paths: ["*.number"], censor: "[redacted]" } }, prettyStream(sink, plain));
    log.info({ card: { number: "4242424242424242" } }, "card seen");
    log.flush();
    const text = written.join("");
    expect(text).to.match(/INFO  card seen {2}card=\{"number":"\[redacted\]"\}/);
    expect(text).not.to.include("4242424242424242");
  });
});
