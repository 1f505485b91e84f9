// The bad-input specs' platform and requests (test/e2e/bad-inputs-*.e2e.spec.ts): the whole
// platform with every line it logs kept, the endpoints its own /openapi.json documents (every
// route, /ops, /metrics and /openapi.json included) with their path parameters filled in, a request
// to any of them with the key it takes, and the error envelope read back.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { capturingLogger } from "./log-capture.ts";
import { OPERATOR_KEY, startTestPlatform, type Api, type TestPlatform } from "./platform.ts";

export type Endpoint = {
  method: string;
  /** With every path parameter filled in with a plausible value. */
  path: string;
  template: string;
  takesBody: boolean;
  auth: "merchant" | "operator" | "none";
  params: string[];
};

export const PARAM_VALUES: Record<string, string> = {
  id: "pay_nonexistent",
  kind: "routing",
  version: "1",
  psp: "acme",
};

export type Issue = { in: string; path: string; code: string };

export async function readEnvelope(
  res: Response,
): Promise<{ status: number; code: string | undefined; issues: Issue[] }> {
  const text = await res.text();
  let code: string | undefined;
  let issues: Issue[] = [];
  if (res.status >= 400) {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    expect(body.error, `${res.status} ${text}`).to.be.an("object");
    expect(body.error!.code, text).to.be.a("string");
    expect(body.error!.message, text).to.be.a("string");
    expect(body.error!.details, text).to.be.an("object");
    code = body.error!.code as string;
    issues = (body.error!.details as { issues?: Issue[] }).issues ?? [];
  }
  return { status: res.status, code, issues };
}

export const isPspDoor = (e: Endpoint) => e.template.startsWith("/webhooks/psp/");

export type BadInputsPlatform = {
  p: TestPlatform;
  /** The first merchant's client, and its key. */
  alpha: Api;
  merchantKey: string;
  endpoints: Endpoint[];
  /** Every line the platform logs (gateway and worker), at debug level. */
  logs: ReturnType<typeof capturingLogger>;
};

export async function startBadInputsPlatform(): Promise<BadInputsPlatform> {
  const logs = capturingLogger("debug");
  const p = await startTestPlatform({ log: logs.log });
  const merchantKey = p.merchants[0]!.key;
  const alpha = p.api(p.merchants[0]!);
  const doc = (await (await fetch(`${p.url}/openapi.json`)).json()) as {
    paths: Record<
      string,
      Record<string, { requestBody?: unknown; security?: Array<Record<string, unknown>> }>
    >;
  };
  const endpoints: Endpoint[] = Object.entries(doc.paths).flatMap(([template, ops]) =>
    Object.entries(ops).map(([method, op]) => {
      const params = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      const scheme = Object.keys(op.security?.[0] ?? {})[0];
      return {
        method: method.toUpperCase(),
        template,
        path: template.replace(/\{(\w+)\}/g, (_, n: string) => PARAM_VALUES[n] ?? "x"),
        takesBody: op.requestBody !== undefined,
        auth: scheme === "bearerAuth" ? "merchant" : scheme === "operatorKey" ? "operator" : "none",
        params,
      } satisfies Endpoint;
    }),
  );
  return { p, alpha, merchantKey, endpoints, logs };
}

/** Requests to the endpoints of the platform at `run().url`, with the key each takes. */
export function endpointRequests(run: () => { url: string; merchantKey: string }) {
  function keyOf(e: Endpoint): string | undefined {
    return e.auth === "merchant" ? run().merchantKey : e.auth === "operator" ? OPERATOR_KEY : undefined;
  }

  function send(
    e: Endpoint,
    opts: {
      path?: string;
      body?: string | Uint8Array;
      headers?: Record<string, string>;
      key?: string | null;
    } = {},
  ): Promise<Response> {
    const key = opts.key === undefined ? keyOf(e) : opts.key;
    const headers: Record<string, string> = {
      ...(key !== undefined && key !== null && { authorization: `Bearer ${key}` }),
      ...(e.method !== "GET" && { "idempotency-key": randomBytes(8).toString("hex") }),
      ...(opts.body !== undefined && { "content-type": "application/json" }),
      ...opts.headers,
    };
    return fetch(`${run().url}${opts.path ?? e.path}`, {
      method: e.method,
      headers,
      ...(opts.body !== undefined && { body: opts.body }),
    });
  }

  return { keyOf, send };
}
