// How a failed PSP exchange is classified, error by error as undici reports them: technical_error only
// when the request certainly never left (the PSP cannot have acted), unknown for everything else.
import { expect } from "chai";
import { errors } from "undici";
import { classifyFailure } from "../../actors/psp/http.ts";

const systemError = (code: string, syscall?: string): Error =>
  Object.assign(new Error(`${syscall ?? "read"} ${code}`), { code, ...(syscall ? { syscall } : {}) });
const live = () => new AbortController().signal;

describe("classifying a failed PSP exchange", () => {
  const cases = [
    {
      what: "a refused connection",
      err: systemError("ECONNREFUSED", "connect"),
      outcome: "technical_error",
      code: "connection_refused",
    },
    {
      what: "an unresolvable host",
      err: systemError("ENOTFOUND", "getaddrinfo"),
      outcome: "technical_error",
      code: "connection_failed",
    },
    {
      what: "a connect timeout",
      err: new errors.ConnectTimeoutError(),
      outcome: "technical_error",
      code: "connection_failed",
    },
    {
      what: "an invalid URL",
      err: Object.assign(new TypeError("Invalid URL"), { code: "ERR_INVALID_URL" }),
      outcome: "technical_error",
      code: "connection_failed",
    },
    {
      what: "every address refusing (happy eyeballs)",
      err: new AggregateError([
        systemError("ECONNREFUSED", "connect"),
        systemError("ECONNREFUSED", "connect"),
      ]),
      outcome: "technical_error",
      code: "connection_refused",
    },
    {
      what: "one address refusing and one reset",
      err: new AggregateError([systemError("ECONNREFUSED", "connect"), systemError("ECONNRESET", "read")]),
      outcome: "unknown",
      code: "connection_reset",
    },
    {
      what: "a socket closed by the other side",
      err: new errors.SocketError("other side closed"),
      outcome: "unknown",
      code: "connection_reset",
    },
    {
      what: "a reset while reading",
      err: systemError("ECONNRESET", "read"),
      outcome: "unknown",
      code: "connection_reset",
    },
    {
      what: "a malformed response",
      err: Object.assign(new Error("Response does not match the HTTP/1.1 protocol"), {
        name: "HTTPParserError",
      }),
      outcome: "unknown",
      code: "connection_reset",
    },
    {
      what: "undici's header timeout",
      err: new errors.HeadersTimeoutError(),
      outcome: "unknown",
      code: "timeout",
    },
    {
      what: "undici's body timeout",
      err: new errors.BodyTimeoutError(),
      outcome: "unknown",
      code: "timeout",
    },
    {
      what: "an aborted request",
      err: new errors.RequestAbortedError(),
      outcome: "unknown",
      code: "timeout",
    },
    {
      what: "a wrapper without a code, by its cause",
      err: new TypeError("fetch failed", { cause: systemError("ECONNREFUSED", "connect") }),
      outcome: "technical_error",
      code: "connection_refused",
    },
    { what: "something that is not an Error", err: "boom", outcome: "unknown", code: "connection_reset" },
  ] as const;
  for (const { what, err, outcome, code } of cases) {
    it(`treats ${what} as ${outcome} ${code}`, () => {
      expect(classifyFailure(err, live(), 1000)).to.include({ outcome, code });
    });
  }

  it("treats anything once the deadline has passed as an unknown timeout", () => {
    const failure = classifyFailure(new errors.SocketError("other side closed"), AbortSignal.abort(), 250);
    expect(failure).to.include({ outcome: "unknown", code: "timeout" });
    expect(failure.message).to.include("250 ms");
  });

  it("still treats a refused connection as not sent when the deadline passed meanwhile", () => {
    expect(classifyFailure(systemError("ECONNREFUSED", "connect"), AbortSignal.abort(), 250)).to.include({
      outcome: "technical_error",
      code: "connection_refused",
    });
  });

  it("keeps card numbers out of the message", () => {
    const err = new errors.SocketError("other side closed while sending 4242 4242 4242 4242");
    expect(classifyFailure(err, live(), 1000).message).not.to.include("4242 4242");
  });
});
