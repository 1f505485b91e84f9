// The send-time half of the webhook URL rules: a name is judged by the addresses DNS gives for it
// now, every one of them (a name answering one public and one private address is refused, or the
// connection could pick the private one). A name checked at registration can point elsewhere later
// (DNS rebinding), so the dispatcher connects through `guardedLookup`: the address it connects to
// is the one that was judged, in the same lookup.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import type { LookupFunction } from "node:net";
import {
  addressAllowed,
  AddressClass,
  checkWebhookUrl,
  classifyAddress,
  UrlRefusal,
  type UrlPolicy,
} from "./core/url-policy.ts";

export class WebhookUrlRefused extends Error {
  override name = "WebhookUrlRefused";
  constructor(
    readonly reason: UrlRefusal | "unresolvable",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type Resolve = (name: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (name) =>
  new Promise((resolve, reject) => {
    const opts: LookupAllOptions = { all: true, verbatim: true };
    dnsLookup(name, opts, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

/**
 * The URL's addresses if a webhook may be sent there now; throws WebhookUrlRefused otherwise.
 * `resolve` is for tests (a fake DNS); by default the system resolver (what http would use).
 */
export async function resolveWebhookTarget(
  raw: string,
  policy: UrlPolicy,
  resolve: Resolve = systemResolve,
): Promise<{ url: URL; addresses: LookupAddress[] }> {
  const verdict = checkWebhookUrl(raw, policy);
  if (!verdict.ok) throw new WebhookUrlRefused(verdict.reason, verdict.message);
  const { url, host } = verdict;
  if (host.kind === "ip")
    return { url, addresses: [{ address: host.address, family: host.address.includes(":") ? 6 : 4 }] };
  let addresses: LookupAddress[];
  try {
    addresses = await resolve(host.name);
  } catch (cause) {
    throw new WebhookUrlRefused("unresolvable", "the URL's host does not resolve", { cause });
  }
  judge(addresses, policy, url.protocol === "http:");
  return { url, addresses };
}

/**
 * A `lookup` for http.request / https.request / net.connect that refuses names resolving to an
 * address the policy forbids. `loopbackOnly` for an http:// URL (allowed only to loopback).
 */
export function guardedLookup(
  policy: UrlPolicy,
  o: { loopbackOnly?: boolean; resolve?: Resolve } = {},
): LookupFunction {
  const resolve = o.resolve ?? systemResolve;
  return (hostname, options, callback) => {
    resolve(hostname)
      .then((addresses) => {
        judge(addresses, policy, o.loopbackOnly === true);
        const wanted = addresses.filter((a) => !options.family || a.family === options.family);
        if (options.all) return callback(null, wanted);
        const first = wanted[0];
        if (!first)
          return callback(new WebhookUrlRefused("unresolvable", "no address of that family"), "", 4);
        return callback(null, first.address, first.family);
      })
      .catch((err: unknown) =>
        callback(err instanceof Error ? (err as NodeJS.ErrnoException) : new Error(String(err)), "", 4),
      );
  };
}

function judge(addresses: readonly LookupAddress[], policy: UrlPolicy, loopbackOnly: boolean): void {
  if (addresses.length === 0) throw new WebhookUrlRefused("unresolvable", "the URL's host has no address");
  for (const { address } of addresses) {
    const cls = classOf(address);
    if (!addressAllowed(cls, policy) || (loopbackOnly && cls !== AddressClass.loopback))
      throw new WebhookUrlRefused(
        UrlRefusal.address,
        `the URL's host resolves to a ${cls.replace("_", "-")} address, not allowed`,
      );
  }
}

// A resolver only answers addresses; anything else is treated as the worst case.
const classOf = (address: string): AddressClass => classifyAddress(address) ?? AddressClass.reserved;
