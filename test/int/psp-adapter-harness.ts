// The PSP adapter specs' bench: the real sandbox on a random port with the real acme and bolt
// adapters over HTTP, the sandbox's test cards, and for each adapter the helpers its specs share.
// Specs: test/int/psp-adapters-*.int.spec.ts.
import { randomUUID } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { expect } from "chai";
import type { AuthorizeRequest, CardSecret, PspConnector } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";

export const CARD = {
  succeeds: "4242424242424242",
  otherValid: "5555555555554444",
  hardDecline: "4000000000000002",
  insufficientFunds: "4000000000009995",
  processingError: "4000000000000119",
  threeDs: "4000000000003220",
  stepUp: "4000002760003184",
  slow: "4000000000000077",
  notLuhn: "4242424242424241",
} as const;

const nextYear = new Date().getUTCFullYear() + 1;
export const card = (number: string, expYear = nextYear): CardSecret => ({
  number,
  expMonth: 3,
  expYear,
  cvc: "123",
});

export function authorization(over: Partial<AuthorizeRequest> = {}): AuthorizeRequest {
  return {
    idempotencyKey: randomUUID(),
    reference: randomUUID(),
    amount: 1234,
    currency: "EUR",
    capture: false,
    card: card(CARD.succeeds),
    ...over,
  };
}

export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return port;
}

export type AdapterSandbox = {
  sandbox: Sandbox;
  connectors: Map<string, PspConnector>;
  /** Shorter than the slow card's delay, so its answer arrives too late. */
  impatient: Map<string, PspConnector>;
};

export async function startAdapterSandbox(): Promise<AdapterSandbox> {
  const sandbox = await startSandbox({ port: 0, slowCardDelayMs: 1500 });
  return {
    sandbox,
    connectors: createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 5000 }),
    impatient: createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 300 }),
  };
}

/**
 * The `name` adapter's helpers, over the sandbox and connectors `env()` returns once `before` has
 * run. Call inside the adapter's `describe`: the sandbox's behaviour for `name` is reset after each
 * test.
 */
export function useAdapter(name: string, env: () => Pick<AdapterSandbox, "sandbox" | "connectors">) {
  const psp = () => env().connectors.get(name)!;
  const onlyCharge = (reference: string) => {
    const charges = env().sandbox.charges({ reference });
    expect(charges).to.have.length(1);
    return charges[0]!;
  };
  const authorize = async (over: Partial<AuthorizeRequest> = {}) => {
    const req = authorization(over);
    const result = await psp().authorize(req);
    if (result.outcome !== "authorized") expect.fail(`expected authorized, got ${JSON.stringify(result)}`);
    return { req, pspReference: result.pspReference };
  };

  const capture = (pspReference: string, amount: number) =>
    psp().capture({ idempotencyKey: randomUUID(), pspReference, amount, currency: "EUR" });

  afterEach(() => env().sandbox.resetBehaviour(name));

  return { psp, onlyCharge, authorize, capture };
}
