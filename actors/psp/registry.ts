// Which PSP connectors exist, where they point and what each can take. Today both point at the
// sandbox, which serves each PSP's API under its own base path; a real deployment would give each its
// own API URL. Capabilities are declared by each adapter (acme.ts, bolt.ts) and read from here.

import type { PspCapabilities } from "../policy/core/schemas.ts";
import { createAcmeConnector } from "./acme.ts";
import { createBoltConnector } from "./bolt.ts";
import type { DeclaredConnector, PspConnector } from "./contract.ts";
import type { NotificationSecrets } from "../../config/env.ts";

export type ConnectorOptions = {
  sandboxUrl: string;
  timeoutMs: number;
  /** Per-PSP API base URL, overriding the sandbox path (e.g. to point one PSP elsewhere). */
  apiUrls?: Partial<Record<string, string>>;
  /**
   * Notification signing secrets. A PSP without one keeps its notification door closed: no default
   * here (the development secrets are filled in by scripts/platform.ts, for npm start and tests only).
   */
  notifications?: Partial<NotificationSecrets>;
};

export function createConnectors(opts: ConnectorOptions): Map<string, DeclaredConnector> {
  const root = opts.sandboxUrl.replace(/\/+$/, "");
  const apiUrl = (name: string, sandboxPath: string) => opts.apiUrls?.[name] ?? `${root}${sandboxPath}`;
  const secrets = opts.notifications ?? {};
  const connectors = [
    createAcmeConnector({
      apiUrl: apiUrl("acme", "/acme/v1"),
      timeoutMs: opts.timeoutMs,
      webhookSecret: secrets.acmeWebhookSecret,
      webhookToleranceSec: secrets.toleranceSec,
    }),
    createBoltConnector({
      apiUrl: apiUrl("bolt", "/bolt"),
      timeoutMs: opts.timeoutMs,
      hmacKeyHex: secrets.boltHmacKey,
    }),
  ];
  return new Map(connectors.map((c) => [c.name, c]));
}

/** The PSPs whose notifications cannot be verified (no secret configured): their doors stay closed. */
export function closedNotificationDoors(secrets: Partial<NotificationSecrets> = {}): string[] {
  return [...(secrets.acmeWebhookSecret ? [] : ["acme"]), ...(secrets.boltHmacKey ? [] : ["bolt"])];
}

/** Each connector's declared capabilities; a connector that declares none is left out (not eligible). */
export function capabilitiesOf(connectors: ReadonlyMap<string, PspConnector>): Map<string, PspCapabilities> {
  const out = new Map<string, PspCapabilities>();
  for (const [name, c] of connectors) if (c.capabilities) out.set(name, c.capabilities);
  return out;
}
