// The HTTP edge below the routes. What Node's parser and fastify's router refuse before any route
// runs (unparseable bytes, oversized headers, a body that never arrives in full, a bad URL, an
// overlong path parameter) is answered in the same error envelope as everything else; the checks
// every request shares (headers that must come once, URL length, a query that percent-decodes,
// content encoding and charset)
// run first of all hooks; only JSON objects are accepted as bodies, none nested past MAX_JSON_DEPTH;
// no body may repeat a key in one object (actors/payment/core/json-keys.ts); and no string or key
// anywhere in a request (body, query, path) may hold what no store downstream can hold (a NUL, a lone
// surrogate: actors/payment/core/contract.ts).
import { logFor } from "./context.ts";
import { isUtf8 } from "node:buffer";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from "fastify";
import {
  findUnsafeText,
  MAX_JSON_DEPTH,
  UNSAFE_TEXT,
  type UnsafeText,
} from "../actors/payment/core/contract.ts";
import { DUPLICATE_KEY_MESSAGE, findDuplicateKey } from "../actors/payment/core/json-keys.ts";
import { ApiError, toApiError } from "./errors.ts";

/** Longer URLs are 414: nothing we serve needs more, and a long URL only costs logs and memory. */
export const MAX_URL_LENGTH = 2_048;
/** Path parameters are ids; fastify answers a longer one through frameworkErrors (414). */
export const MAX_PARAM_LENGTH = 100;
/** A request whose body has not arrived in full by then is answered 408 and closed. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Headers whose repetition is ambiguous. Node keeps the first Authorization and Content-Type and
 * silently drops the rest, and joins repeated Idempotency-Keys into "a, b": either way a request
 * would be read differently from how some proxy on the way read it. Refused instead.
 */
const SINGLE_VALUED = ["authorization", "idempotency-key", "content-type", "content-encoding"] as const;

/** The parts of fastify's options that shape the edge. */
export function edgeOptions(requestTimeoutMs: number) {
  return {
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    requestTimeout: requestTimeoutMs,
    http: {
      // Given to the server's constructor too: Node 20 starts checking request timeouts only when
      // the constructor sees one, and checks every 30 s by default, so a short body would hold
      // its connection long past the timeout. Headers get the same deadline.
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeoutMs / 2))),
    },
    clientErrorHandler: clientErrorHandler(requestTimeoutMs),
    frameworkErrors,
  };
}

/** What a connection-level error means for the client, in the error table's terms. */
export function clientErrorOf(
  err: { code?: string; rawPacket?: unknown },
  requestTimeoutMs: number,
): ApiError {
  switch (err.code ?? "") {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new ApiError(
        "request_timeout",
        `the request did not arrive in full within ${requestTimeoutMs} ms (a Content-Length longer than the body?)`,
      );
    case "HPE_HEADER_OVERFLOW": {
      // Node counts the request line towards the header limit: a huge URL overflows it too.
      // (fastify types rawPacket as a JSON-ed Buffer; at run time it is the Buffer itself.)
      const lineEnd = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.indexOf("\r\n") : -1;
      return lineEnd === -1 || lineEnd > MAX_URL_LENGTH + 32
        ? new ApiError("uri_too_long", `the URL is longer than ${MAX_URL_LENGTH} characters`)
        : new ApiError("headers_too_large", "the request headers are too large");
    }
    default:
      // The parser's code says what was wrong (HPE_INVALID_HEADER_TOKEN…); never the bytes themselves.
      return new ApiError("malformed_request", "the request is not valid HTTP", { parser: err.code ?? null });
  }
}

/** Node's clientError: a request the parser gave up on, answered on the raw socket. */
function clientErrorHandler(requestTimeoutMs: number) {
  return function (this: FastifyInstance, err: ConnectionError, socket: Socket): void {
    if (err.code === "ECONNRESET" || socket.destroyed) return;
    const e = clientErrorOf(err, requestTimeoutMs);
    this.log.info({ code: e.code, status: e.status, parser: err.code }, e.message);
    // Only on a fresh response: bytes already written belong to a response the client is reading.
    if (!socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify(e.toBody());
    socket.end(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? "Error"}\r\n` +
        "Content-Type: application/json; charset=utf-8\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    // A client that never reads must not keep the socket: it has had its answer.
    setTimeout(() => socket.destroy(), 2_000).unref();
  };
}

function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const e = toApiError(err);
  logFor(req).info({ code: e.code, status: e.status }, e.message);
  void reply.code(e.status).send(e.toBody());
}

/** The name of the first single-valued header the request carries more than once. */
export function repeatedHeader(rawHeaders: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!(SINGLE_VALUED as readonly string[]).includes(name)) continue;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

/** The charset parameter of a media type, lowercased, or undefined. */
function charsetOf(contentType: string): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m?.[1]?.toLowerCase();
}

/** First onRequest hook: the shape of the request, before anyone reads its headers. */
export function requestShapeHook(req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
  if (req.url.length > MAX_URL_LENGTH) {
    done(new ApiError("uri_too_long", `the URL is longer than ${MAX_URL_LENGTH} characters`));
    return;
  }
  const repeated = repeatedHeader(req.raw.rawHeaders);
  if (repeated !== undefined) {
    done(new ApiError("duplicate_header", `the ${repeated} header must be sent once`, { header: repeated }));
    return;
  }
  const badQuery = badlyEncodedQueryParameter(req.url);
  if (badQuery !== undefined) {
    done(
      new ApiError("malformed_request", `the query parameter ${badQuery} ${BAD_PERCENT_ENCODING}`, {
        issues: [
          { in: "querystring", path: badQuery, code: "bad_percent_encoding", message: BAD_PERCENT_ENCODING },
        ],
      }),
    );
    return;
  }
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
    done(
      new ApiError(
        "unsupported_media_type",
        "encoded bodies are not accepted: send the JSON as is, without Content-Encoding",
        { header: "content-encoding" },
      ),
    );
    return;
  }
  const charset = charsetOf(req.headers["content-type"] ?? "");
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    done(
      new ApiError("unsupported_media_type", "JSON bodies must be UTF-8 (charset=utf-8, or no charset)", {
        header: "content-type",
      }),
    );
    return;
  }
  done();
}

const BAD_PERCENT_ENCODING =
  "is not percent-encoded UTF-8 (a % not followed by two hex digits, or bytes that are not UTF-8)";
/**
 * A query parameter is named in an answer as is only when it looks like one (`limit`, `expand[0]`):
 * up to 64 characters, at most 3 digits (no card number, however split); anything else is `[key]`.
 */
const PLAIN_PARAMETER = /^[A-Za-z][A-Za-z0-9_.[\]-]{0,63}$/;
const isPlainParameter = (key: string) => PLAIN_PARAMETER.test(key) && key.replace(/\D/g, "").length <= 3;

/**
 * The first query parameter of `url` whose key or value does not decode (`%C3` alone, `%ZZ`, a
 * surrogate's bytes), named as sent or `[key]`; undefined when all decode. fastify's query parser
 * keeps such text as the literal characters, so `?reference=caf%E9` would search for "caf%E9" and
 * answer an empty list; refused instead, as a bad path parameter is (FST_ERR_BAD_URL). Costs an
 * indexOf on a URL without `%` (every payment request).
 */
export function badlyEncodedQueryParameter(url: string): string | undefined {
  const q = url.indexOf("?");
  if (q < 0 || url.indexOf("%", q) < 0) return undefined;
  for (const part of url.slice(q + 1).split("&")) {
    if (!part.includes("%")) continue;
    const eq = part.indexOf("=");
    const key = decodedOrUndefined(eq < 0 ? part : part.slice(0, eq));
    const named = key !== undefined && isPlainParameter(key) ? key : "[key]";
    if (key === undefined || (eq >= 0 && decodedOrUndefined(part.slice(eq + 1)) === undefined)) return named;
  }
  return undefined;
}

function decodedOrUndefined(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}

/**
 * Only application/json bodies, and only JSON objects: fastify also accepts text/plain by default,
 * which would turn a wrong content type into a confusing validation error instead of a 415; and a
 * `null`, array or bare value is no request any route takes. An empty body is no body: clients
 * commonly send the header on body-less POSTs such as cancel.
 */
export function acceptJsonObjectsOnly(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const text = utf8TextOf(body);
    if (text === undefined) {
      done(
        new ApiError("invalid_json", "the body is not valid UTF-8: JSON is UTF-8", { reason: "not_utf8" }),
        undefined,
      );
      return;
    }
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    void parseJson(req, text, (err, value: unknown) => {
      if (err) done(err, undefined);
      else if (typeof value !== "object" || value === null || Array.isArray(value))
        done(notAnObject(value), undefined);
      else {
        // Before any hook walks it: JSON.parse takes "\u0000" and "\ud800" escapes and any depth.
        const unsafe = findUnsafeText(value);
        if (unsafe !== undefined) {
          done(unsafeTextError("body", unsafe), undefined);
          return;
        }
        // JSON.parse keeps the last of a repeated key; a proxy on the way may have read the first.
        const duplicate = findDuplicateKey(text);
        if (duplicate !== undefined) done(duplicateKeyError(duplicate), undefined);
        else done(null, value);
      }
    });
  });
}

/** A body that repeats a key in one object: which key (its path), never a value. */
export function duplicateKeyError(path: string): ApiError {
  return new ApiError("duplicate_key", `${path}: ${DUPLICATE_KEY_MESSAGE}`, {
    issues: [{ in: "body", path, code: "duplicate_key", message: DUPLICATE_KEY_MESSAGE }],
  });
}

/**
 * A body's text, or undefined when its bytes are not UTF-8: decoded, they would read as U+FFFD and
 * be stored so — a merchant's reference that is not what they sent (JSON is UTF-8, RFC 8259 8.1).
 * For the parsers that take the body as bytes (JSON here, the Stripe layer's form).
 */
export function utf8TextOf(body: string | Buffer): string | undefined {
  if (typeof body === "string") return body;
  return isUtf8(body) ? body.toString("utf8") : undefined;
}

function notAnObject(value: unknown): ApiError {
  const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
  return new ApiError("validation_error", `the body must be a JSON object, not ${got}`, {
    issues: [{ in: "body", path: "", code: "invalid_type", message: `expected a JSON object, got ${got}` }],
  });
}

/**
 * preValidation hook of every route: the path parameters and the query string hold no NUL and no lone
 * surrogate (the body was checked as it was parsed). `%00` decodes to a NUL in both.
 */
export function refuseUnstorableText(
  req: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
) {
  const inParams = findUnsafeText(req.params);
  const inQuery = inParams === undefined ? findUnsafeText(req.query) : undefined;
  if (inParams !== undefined) done(unsafeTextError("params", inParams));
  else if (inQuery !== undefined) done(unsafeTextError("querystring", inQuery));
  else done();
}

/** The refusal of what findUnsafeText found: the field's path and what is wrong, never the value. */
export function unsafeTextError(where: string, u: UnsafeText): ApiError {
  const what = u.path.endsWith("[key]") ? "this key" : "this value";
  const issues = [{ in: where, path: u.path, code: u.problem, message: `${what} ${UNSAFE_TEXT[u.problem]}` }];
  if (u.problem === "too_deep")
    return new ApiError("nesting_too_deep", `the ${where} ${UNSAFE_TEXT.too_deep}`, {
      max_depth: MAX_JSON_DEPTH,
      issues,
    });
  return new ApiError("invalid_characters", `${u.path || where}: ${what} ${UNSAFE_TEXT[u.problem]}`, {
    issues,
  });
}
