// Where a merchant may ask us to send webhooks: the rules that keep the dispatcher from being
// pointed into the operator's own network (SSRF). Pure: it judges a URL string, or an address a
// resolver found; resolving names happens in url-resolve.ts, at send time, with these same rules.
//
// The URL is parsed by the WHATWG parser (what fetch and http use), so every spelling of a host
// that parser accepts — 0x7f.1, 2130706433, 0177.0.0.1, [::ffff:10.0.0.1] — is judged by the
// address it means, never by its text. The normalized URL (`href`) is what gets stored and called.

export type UrlPolicy = {
  /** http:// to a loopback host (127.0.0.0/8, ::1, localhost): development and tests only. */
  allowHttpLoopback: boolean;
  /** Private, link-local, CGNAT and loopback addresses (a deployment inside a private network). */
  allowPrivate: boolean;
};

/** What production runs with. */
export const STRICT_URL_POLICY: UrlPolicy = { allowHttpLoopback: false, allowPrivate: false };

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export const UrlRefusal = {
  invalid: "invalid",
  tooLong: "too_long",
  scheme: "scheme_not_allowed",
  credentials: "credentials_in_url",
  fragment: "fragment_in_url",
  address: "address_not_allowed",
} as const;
export type UrlRefusal = (typeof UrlRefusal)[keyof typeof UrlRefusal];

export const AddressClass = {
  public: "public",
  loopback: "loopback",
  private: "private",
  linkLocal: "link_local",
  cgnat: "cgnat",
  unspecified: "unspecified",
  multicast: "multicast",
  reserved: "reserved",
} as const;
export type AddressClass = (typeof AddressClass)[keyof typeof AddressClass];

export type UrlVerdict =
  | {
      ok: true;
      url: URL;
      /** An IP literal is judged here for good; a name must be resolved and judged at send time. */
      host: { kind: "ip"; address: string; class: AddressClass } | { kind: "name"; name: string };
    }
  | { ok: false; reason: UrlRefusal; message: string };

const refuse = (reason: UrlRefusal, message: string): UrlVerdict => ({ ok: false, reason, message });

/** Whether a webhook may be sent to `raw`; the message never repeats the URL (it may hold a token). */
export function checkWebhookUrl(raw: string, policy: UrlPolicy): UrlVerdict {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH)
    return refuse(UrlRefusal.tooLong, `the URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`);
  // The parser silently drops tabs and newlines and trims spaces: what it would call is then not
  // what the merchant sees. Refused rather than guessed.
  if (/[\u0000-\u0020\u007f-\u009f]/.test(raw))
    return refuse(UrlRefusal.invalid, "the URL contains whitespace or control characters");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse(UrlRefusal.invalid, "the URL does not parse");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return refuse(UrlRefusal.scheme, "the URL must be https://");
  if (url.username !== "" || url.password !== "")
    return refuse(UrlRefusal.credentials, "the URL must not contain credentials (user:password@)");
  if (raw.includes("#")) return refuse(UrlRefusal.fragment, "the URL must not contain a fragment (#…)");
  if (url.hostname === "") return refuse(UrlRefusal.invalid, "the URL has no host");

  const host = hostOf(url.hostname);
  const cls = host.kind === "ip" ? host.class : nameClass(host.name);
  if (url.protocol === "http:" && !(policy.allowHttpLoopback && cls === AddressClass.loopback))
    return refuse(
      UrlRefusal.scheme,
      policy.allowHttpLoopback
        ? "the URL must be https:// (http:// only to a loopback host)"
        : "the URL must be https://",
    );
  if (cls !== undefined && !addressAllowed(cls, policy))
    return refuse(UrlRefusal.address, `the URL's host is a ${cls.replace("_", "-")} address, not allowed`);
  return { ok: true, url, host };
}

/** Whether a delivery may go to an address of this class under the policy. */
export function addressAllowed(cls: AddressClass, policy: UrlPolicy): boolean {
  switch (cls) {
    case AddressClass.public:
      return true;
    case AddressClass.loopback:
      return policy.allowPrivate || policy.allowHttpLoopback;
    case AddressClass.private:
    case AddressClass.linkLocal:
    case AddressClass.cgnat:
      return policy.allowPrivate;
    // Never a receiver: 0.0.0.0 reaches the local host on Linux, the others reach no one or many.
    case AddressClass.unspecified:
    case AddressClass.multicast:
    case AddressClass.reserved:
      return false;
    default: {
      const never: never = cls;
      return never;
    }
  }
}

/** A URL parser hostname (`[v6]`, dotted v4, or a name) as an address with its class, or a name. */
function hostOf(
  hostname: string,
): { kind: "ip"; address: string; class: AddressClass } | { kind: "name"; name: string } {
  const literal = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  const cls = classifyAddress(literal);
  if (cls !== undefined) return { kind: "ip", address: literal, class: cls };
  return { kind: "name", name: hostname.replace(/\.$/, "").toLowerCase() };
}

// Names that can only mean this host or a private network, whatever DNS says later.
const LOCAL_SUFFIXES = [".local", ".internal", ".localdomain", ".home.arpa", ".lan", ".intranet"];

/** The class a name certainly has, or undefined when only DNS can tell. */
function nameClass(name: string): AddressClass | undefined {
  if (name === "localhost" || name.endsWith(".localhost")) return AddressClass.loopback;
  // A single label is looked up through the resolver's search domains: an intranet name.
  if (!name.includes(".") || LOCAL_SUFFIXES.some((s) => name.endsWith(s))) return AddressClass.private;
  return undefined;
}

/** The class of an IPv4 or IPv6 address in text form; undefined when `ip` is not one. */
export function classifyAddress(ip: string): AddressClass | undefined {
  const v4 = parseIPv4(ip);
  if (v4) return classifyV4(v4);
  const v6 = parseIPv6(ip);
  return v6 ? classifyV6(v6) : undefined;
}

function classifyV4([a, b, c]: readonly number[]): AddressClass {
  if (a === undefined || b === undefined || c === undefined) return AddressClass.reserved;
  if (a === 0) return AddressClass.unspecified;
  if (a === 127) return AddressClass.loopback;
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return AddressClass.private;
  if (a === 169 && b === 254) return AddressClass.linkLocal;
  if (a === 100 && b >= 64 && b <= 127) return AddressClass.cgnat;
  if (a >= 224 && a <= 239) return AddressClass.multicast;
  if (
    a >= 240 ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 192 && b === 88 && c === 99) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113)
  )
    return AddressClass.reserved;
  return AddressClass.public;
}

function classifyV6(x: Uint8Array): AddressClass {
  const zero = (from: number, to: number) => x.subarray(from, to).every((v) => v === 0);
  const embedded = (at: number) => classifyV4([...x.subarray(at, at + 4)]);
  const b0 = x[0] ?? 0;
  const b1 = x[1] ?? 0;
  if (zero(0, 16)) return AddressClass.unspecified;
  if (zero(0, 15) && x[15] === 1) return AddressClass.loopback;
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible): the IPv4 address it carries.
  if (zero(0, 10) && x[10] === 0xff && x[11] === 0xff) return embedded(12);
  if (zero(0, 12)) return embedded(12);
  // NAT64 well-known prefix 64:ff9b::/96 reaches the IPv4 address; 64:ff9b:1::/48 is local use.
  if (b0 === 0x00 && b1 === 0x64 && x[2] === 0xff && x[3] === 0x9b)
    return zero(4, 12) ? embedded(12) : AddressClass.private;
  // 6to4: 2002:AABB:CCDD::/48 tunnels to a.b.c.d.
  if (b0 === 0x20 && b1 === 0x02) return embedded(2);
  if ((b0 & 0xfe) === 0xfc) return AddressClass.private;
  if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return AddressClass.linkLocal;
  if (b0 === 0xfe && (b1 & 0xc0) === 0xc0) return AddressClass.private; // site-local (deprecated)
  if (b0 === 0xff) return AddressClass.multicast;
  // Teredo 2001::/32 and documentation 2001:db8::/32.
  if (b0 === 0x20 && b1 === 0x01 && ((x[2] === 0 && x[3] === 0) || (x[2] === 0x0d && x[3] === 0xb8)))
    return AddressClass.reserved;
  // Only 2000::/3 is global unicast; the rest is unassigned or special.
  return (b0 & 0xe0) === 0x20 ? AddressClass.public : AddressClass.reserved;
}

/** Strict dotted decimal (what the URL parser and resolvers produce); anything else is not IPv4 here. */
function parseIPv4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | undefined {
  if (!s.includes(":") || s.includes("%")) return undefined;
  let text = s.toLowerCase();
  // A trailing dotted IPv4 part becomes its two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseIPv4(dotted[2] ?? "");
    if (!v4) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    text = `${dotted[1] ?? ""}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string | undefined) => (h === undefined || h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  for (const [i, g] of all.entries()) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  return out;
}
