// NATS headers for what the platform publishes on a payment's path (a command, an event frame, a
// merchant event), kept as the pairs they are and encoded once. @nats-io/nats-core's own headers
// object canonicalizes the key, lists and filters every key and compiles a regular expression on each
// set (the JetStream client sets two or three more for msgID and expect): in a heap profile of the
// bench a payment allocated ~396 KB with them, ~381 KB with these. These keys are ours and fixed, so
// they are kept as given; a value with CR or LF is refused, as nats-core refuses it. The client only
// calls set() and encode() on headers it publishes; the rest of MsgHdrs is here for the type, and for
// a caller (tracing) that reads back what it set.
import { Match, type MsgHdrs } from "@nats-io/transport-node";

const encoder = new TextEncoder();
const CR_LF = /[\r\n]/;
/** What nats-core lets a header name be: printable ASCII but the colon (RFC 822's field-name). */
const NAME = /^[\x21-\x39\x3b-\x7e]+$/;

export class WireHeaders implements MsgHdrs {
  readonly #pairs: Array<[string, string]> = [];
  hasError = false;
  status = "";
  code = 0;
  description = "";

  /** The headers as NATS sends them: `NATS/1.0`, a line per value, a blank line. */
  encode(): Uint8Array {
    let s = "NATS/1.0";
    for (const [k, v] of this.#pairs) s += `\r\n${k}: ${v}`;
    return encoder.encode(`${s}\r\n\r\n`);
  }

  set(k: string, v: string, match: Match = Match.Exact): void {
    this.delete(k, match);
    this.append(k, v);
  }

  append(k: string, v: string): void {
    if (!NAME.test(k)) throw new TypeError(`invalid header name ${JSON.stringify(k)}`);
    if (CR_LF.test(v)) throw new TypeError("header values cannot contain \\r or \\n");
    this.#pairs.push([k, v.trim()]);
  }

  get(k: string, match: Match = Match.Exact): string {
    return this.#pairs.find(([key]) => same(key, k, match))?.[1] ?? "";
  }

  last(k: string, match: Match = Match.Exact): string {
    return this.values(k, match).at(-1) ?? "";
  }

  has(k: string, match: Match = Match.Exact): boolean {
    return this.#pairs.some(([key]) => same(key, k, match));
  }

  keys(): string[] {
    return [...new Set(this.#pairs.map(([k]) => k))];
  }

  values(k: string, match: Match = Match.Exact): string[] {
    return this.#pairs.filter(([key]) => same(key, k, match)).map(([, v]) => v);
  }

  delete(k: string, match: Match = Match.Exact): void {
    for (let i = this.#pairs.length - 1; i >= 0; i--)
      if (same(this.#pairs[i]![0], k, match)) this.#pairs.splice(i, 1);
  }

  *[Symbol.iterator](): Iterator<[string, string[]]> {
    for (const k of this.keys()) yield [k, this.values(k)];
  }
}

function same(key: string, k: string, match: Match): boolean {
  return match === Match.Exact ? key === k : key.toLowerCase() === k.toLowerCase();
}
