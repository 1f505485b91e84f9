// One waste of @nats-io/nats-core 3.4, taken out. A request answered (every JetStream publish: the
// command, each event append, 3 per payment) is resolved, then cancel()led to release its token and
// timer — and cancel() builds a RequestError("cancelled"), an Error with its captured stack, to
// reject the promise already resolved, which nothing can observe. Measured in the bench's profile:
// 0.056 ms of CPU per payment (2 % of it), and garbage. Installed here, the answered path releases
// the token and the timer as cancel() does, without the Error; errors and timeouts go through the
// library's own code unchanged. Installed only over the code it was written against (the check
// below): another version leaves the library as it is, and `natsRequestPatched()` says so (a test
// fails then, so an upgrade looks at this again).
import { RequestOne } from "@nats-io/nats-core/internal";
import type { Msg } from "@nats-io/nats-core";

const proto = RequestOne.prototype as {
  resolver: (this: RequestOne, err: Error | null, msg: Msg) => void;
  cancel: (this: RequestOne, err?: Error) => void;
};
const original = proto.resolver;
const matches =
  /new errors_1\.RequestError\("cancelled"\)/.test(String(proto.cancel)) &&
  /this\.deferred\.resolve\(msg\);\s*}\s*this\.cancel\(\);/.test(String(original));

if (matches) {
  proto.resolver = function resolver(this: RequestOne, err: Error | null, msg: Msg): void {
    if (err) {
      original.call(this, err, msg);
      return;
    }
    this.timer.cancel();
    this.deferred.resolve(msg);
    this.mux.cancel(this);
  };
}

/** True when the answered path above is in use (the library is the version it was written for). */
export function natsRequestPatched(): boolean {
  return matches;
}
