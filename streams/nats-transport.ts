// The platform's NATS connections write at most once per turn of the event loop. @nats-io/nats-core
// 3.4 hands its buffered protocol lines to the socket at the end of each microtask checkpoint, so
// every I/O callback that publishes (a command, an event append, an ack, a reply, a read model's
// ack…) is a write system call of its own: 3.3 per payment under the bench's load, each also a packet
// nats-server reads. Here the transport gathers what it is handed during one turn and writes it once
// from setImmediate — after every I/O callback of that turn's poll phase ran, before the loop waits
// again — so the turn's publishes share one write: 0.36 per payment under the same load. At one
// client nothing waits: the check phase follows the poll phase that produced the frame directly.
//
// Nothing is reordered (frames go out in the order handed), and nothing is held past the turn; a
// turn that gathers more than MAX_GATHERED_BYTES writes at once (a burst of large messages does not
// pile up in memory). Close writes what is gathered first, as the library's own close writes its
// buffer. Installed through the library's transport factory, as its own `connect` installs the plain
// node transport; the factory is process-wide and read at each (re)connection, so a connection made
// with the library's `connect` after ours (the bench's, a test's) resets it for later dials — a
// connection then simply writes as the library does, which is correct, only not gathered.
import { NatsConnectionImpl, setTransportFactory, type ConnectionOptions } from "@nats-io/nats-core/internal";
import type { NatsConnection } from "@nats-io/nats-core";
import { NodeTransport, nodeResolveHost } from "@nats-io/transport-node/lib/node_transport.js";

/** Above this many bytes gathered in one turn, they are written at once. */
export const MAX_GATHERED_BYTES = 64 * 1024;

/** Writes counted on gathering transports since the process started (tests read it). */
let writes = 0;
export const gatheredWrites = (): number => writes;

export class GatheringTransport extends NodeTransport {
  #frames: Uint8Array[] = [];
  #bytes = 0;
  #scheduled = false;

  override send(frame: Uint8Array): void {
    this.#frames.push(frame);
    this.#bytes += frame.byteLength;
    if (this.#bytes >= MAX_GATHERED_BYTES) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#onTurnEnd);
    }
  }

  override close(err?: Error): Promise<void> {
    this.#flush();
    return super.close(err);
  }

  readonly #onTurnEnd = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  #flush(): void {
    const frames = this.#frames;
    if (frames.length === 0) return;
    this.#frames = [];
    this.#bytes = 0;
    writes++;
    super.send(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }
}

/** As @nats-io/transport-node's `connect`, with the gathering transport. */
export function connectGathering(opts: ConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new GatheringTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(opts);
}
