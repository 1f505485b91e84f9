// `npm run bench -- --tracing`: the product runs with tracing on, exporting every span over
// OTLP/HTTP to a receiver in this process that reads and discards the batches (a real HTTP server,
// so the cost measured is the spans, their batching, JSON encoding and the HTTP export; a real
// collector's own work is not counted). Off (the default) nothing here runs: the API's no-op.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { shutdownTracing, startTracing } from "../../config/tracing.ts";

export type BenchTracing = {
  /** Export requests and bytes the receiver took so far. */
  exported(): { requests: number; bytes: number };
  stop(): Promise<void>;
};

export async function startBenchTracing(): Promise<BenchTracing> {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => {
      requests++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  // Only the endpoint: a collector configured in the caller's environment is not this bench's.
  startTracing("switchyard-bench", { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
  return {
    exported: () => ({ requests, bytes }),
    async stop() {
      await shutdownTracing();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
