// The only module that touches nact. nact has been frozen since 2022 and its .d.ts disagrees with
// its runtime in places, so the rest of the code sees this small typed surface instead: a system,
// stateful children with a mailbox (one message at a time), ask-with-timeout, stop.
import * as nact from "nact";

export type ActorRef<Msg> = { readonly __msg?: Msg };
export type ActorSystem = { readonly __system: true };

/** Handler of one message: returns the actor's next state. Must not throw (a throw resets the actor). */
export type Behaviour<State, Msg, Reply> = (
  state: State,
  msg: Msg,
  reply: (r: Reply) => void,
) => Promise<State>;

type UntypedNact = {
  start: () => unknown;
  spawn: (parent: unknown, f: unknown, name: string, props: unknown) => unknown;
  query: (ref: unknown, msg: unknown, timeout: number) => Promise<unknown>;
  dispatch: (ref: unknown, msg: unknown) => void;
  stop: (ref: unknown) => void;
};
const n = nact as unknown as UntypedNact;

export function startSystem(): ActorSystem {
  return n.start() as ActorSystem;
}

export function stopSystem(system: ActorSystem): void {
  n.stop(system);
}

export function spawnActor<State, Msg, Reply>(
  parent: ActorSystem,
  name: string,
  initialState: State,
  behaviour: Behaviour<State, Msg, Reply>,
  onReset: (err: unknown) => void,
): ActorRef<{ msg: Msg; reply: Reply }> {
  const f = async (state: State, msg: Msg, ctx: { sender: unknown }) =>
    behaviour(state, msg, (r: Reply) => n.dispatch(ctx.sender, r));
  return n.spawn(parent, f, name, {
    initialState,
    onCrash: (_msg: unknown, err: unknown, ctx: { reset: unknown }) => {
      onReset(err);
      return ctx.reset;
    },
  }) as ActorRef<{ msg: Msg; reply: Reply }>;
}

/** Send a message and wait for the actor's reply; rejects after `timeoutMs` (nact drops messages to stopped actors silently). */
export async function ask<Msg, Reply>(
  ref: ActorRef<{ msg: Msg; reply: Reply }>,
  msg: Msg,
  timeoutMs: number,
): Promise<Reply> {
  return (await n.query(ref, msg, timeoutMs)) as Reply;
}

export function stopActor(ref: ActorRef<unknown>): void {
  n.stop(ref);
}
