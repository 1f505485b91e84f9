// One failure taxonomy for handling a command. Every error is classified once, here (Restate's
// terminal / retryable split is the model); what each class does to the message is decided once,
// in actors/fate.ts (dispositionFor), with every other outcome:
// - retry: infrastructure or PSP trouble (NATS, Redis, a socket): nothing is lost, the command is
//   redelivered after a delay and the events say exactly how far it got;
// - fenced: another copy of the payment wrote first: drop this copy's state, reload, decide again;
// - poison: it can never succeed as it is (undecodable command, a corrupt history, events our own
//   reader would reject, a card no key can open): dead-letter it now, so its partition moves on and
//   an operator can look at it.
import { SealError } from "../config/card-seal.ts";
import { CorruptEventError, WrongLastSequenceError } from "../streams/event-store.ts";
import { PoisonReason, type Failure } from "./fate.ts";
import { InvalidEventError } from "./payment/journal.ts";

export { PoisonReason, type Failure } from "./fate.ts";

export function classify(err: unknown): Failure {
  if (err instanceof WrongLastSequenceError) return { kind: "fenced" };
  if (err instanceof CorruptEventError)
    return { kind: "poison", reason: PoisonReason.corruptHistory, error: err.message };
  if (err instanceof InvalidEventError)
    return { kind: "poison", reason: PoisonReason.invalidEvent, error: err.message };
  if (err instanceof SealError)
    return { kind: "poison", reason: PoisonReason.unreadableCard, error: err.message };
  return { kind: "retry" };
}
