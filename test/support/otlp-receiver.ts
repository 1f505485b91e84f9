// A tiny real OTLP/HTTP traces receiver: accepts POST /v1/traces in the JSON encoding (what
// @opentelemetry/exporter-trace-otlp-http sends) and keeps every span it was sent, flattened.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

/** OTLP span kinds as the JSON encoding writes them. */
export const Kind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export type ReceivedSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
};

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };
type ExportRequest = {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: KeyValue[];
      }>;
    }>;
  }>;
};

export type OtlpReceiver = {
  /** The base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  url: string;
  spans: ReceivedSpan[];
  /** Export requests received, whatever their content. */
  requests: number;
  close(): Promise<void>;
};

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: OtlpReceiver = { url: "", spans: [], requests: 0, close: () => Promise.resolve() };
  const server = createServer((req, res) => {
    void body(req).then((raw) => {
      received.requests++;
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      received.spans.push(...flatten(JSON.parse(raw.toString("utf8")) as ExportRequest));
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  received.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  received.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return received;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
}

function flatten(req: ExportRequest): ReceivedSpan[] {
  return (req.resourceSpans ?? []).flatMap((rs) => {
    const name = value(rs.resource?.attributes, "service.name");
    const service = typeof name === "string" ? name : "";
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
        name: s.name,
        kind: s.kind,
        service,
        attributes: Object.fromEntries((s.attributes ?? []).map((kv) => [kv.key, plain(kv.value)])),
      })),
    );
  });
}

function value(attrs: KeyValue[] | undefined, key: string): unknown {
  const kv = attrs?.find((a) => a.key === key);
  return kv === undefined ? undefined : plain(kv.value);
}

function plain(v: AnyValue): unknown {
  return v.stringValue ?? v.intValue ?? v.boolValue;
}
