// Which PSP connectors exist and where they point. Today both point at the sandbox, which serves
// each PSP's API under its own base path; a real deployment would give each its own API URL.

import { createAcmeConnector } from "./acme.ts";
import { createBoltConnector } from "./bolt.ts";
import type { PspConnector } from "./contract.ts";

export function createConnectors(opts: { sandboxUrl: string; timeoutMs: number }): Map<string, PspConnector> {
  const root = opts.sandboxUrl.replace(/\/+$/, "");
  const connectors = [
    createAcmeConnector({ apiUrl: `${root}/acme/v1`, timeoutMs: opts.timeoutMs }),
    createBoltConnector({ apiUrl: `${root}/bolt`, timeoutMs: opts.timeoutMs }),
  ];
  return new Map(connectors.map((c) => [c.name, c]));
}
