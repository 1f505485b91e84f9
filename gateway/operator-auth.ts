// Operator authentication for /ops/*: `Authorization: Bearer <key>` → operator name, through the
// same KeyRing as MerchantAuth (sha256 digests only, constant-time compare of every key). The hook
// tells a merchant (403 forbidden) from a stranger (401), and answers 403 operator_api_disabled
// when no operator key is configured at all. Keys are never logged; the name is.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { hashApiKey } from "../config/secrets.ts";
import { KeyRing, type MerchantAuth } from "./auth.ts";
import { bindLog } from "./context.ts";
import { ApiError } from "./errors.ts";

export type OperatorKeyHash = { name: string; keyHash: Buffer };

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the /ops auth hook; empty elsewhere. */
    operator: string;
  }
}

export class OperatorAuth {
  readonly #ring: KeyRing;

  constructor(keys: readonly OperatorKeyHash[]) {
    this.#ring = new KeyRing(
      keys.map((k) => ({ owner: k.name, keyHash: k.keyHash })),
      "operator",
    );
  }

  /** From configuration: `{ name, key }` pairs, hashed here; the plain keys are not kept. */
  static fromKeys(keys: ReadonlyArray<{ name: string; key: string }>): OperatorAuth {
    return new OperatorAuth(keys.map((k) => ({ name: k.name, keyHash: hashApiKey(k.key) })));
  }

  get enabled(): boolean {
    return this.#ring.size > 0;
  }

  /** The operator whose key the header carries, or undefined for a missing, malformed or unknown key. */
  authenticate(authorizationHeader?: string): string | undefined {
    return this.#ring.match(authorizationHeader);
  }
}

export function decorateOperator(app: FastifyInstance): void {
  app.decorateRequest("operator", "");
}

/** onRequest hook of every /ops route. */
export function operatorAuthHook(operators: OperatorAuth, merchants: MerchantAuth) {
  return (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!operators.enabled) {
      done(
        new ApiError(
          "operator_api_disabled",
          "the operator API is disabled: no operator keys are configured (SWITCHYARD_OPERATOR_KEYS)",
        ),
      );
      return;
    }
    const header = req.headers.authorization;
    const operator = operators.authenticate(header);
    if (operator !== undefined) {
      req.operator = operator;
      bindLog(req, reply, { operator });
      done();
      return;
    }
    if (merchants.authenticate(header) !== undefined) {
      done(new ApiError("forbidden", "a merchant key cannot use the operator API"));
      return;
    }
    reply.header("www-authenticate", 'Bearer realm="switchyard-ops"');
    done(new ApiError("unauthorized", "a valid operator key is required: Authorization: Bearer <key>"));
  };
}
