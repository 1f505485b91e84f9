// Operator authentication and authorization for /ops/*: `Authorization: Bearer <key>` → operator
// name and role, through the same KeyRing as MerchantAuth (sha256 digests only, constant-time
// compare of every key); then the role the route needs, from one table (ROLE_RULES). The hook tells
// a merchant (403 forbidden) from a stranger (401), answers 403 operator_api_disabled when no
// operator key is configured at all, and 403 insufficient_role below the route's role. Keys are
// never logged; the name is.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { OPERATOR_ROLES, type OperatorRole } from "../config/env.ts";
import { hashApiKey } from "../config/secrets.ts";
import { KeyRing, type MerchantAuthenticator } from "./auth.ts";
import { bindLog } from "./context.ts";
import { ApiError } from "./errors.ts";

export type OperatorKeyHash = { name: string; keyHash: Buffer; role?: OperatorRole };

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the /ops auth hook; empty elsewhere. */
    operator: string;
    /** Set by the /ops auth hook with the operator; "viewer" elsewhere. */
    operatorRole: OperatorRole;
  }
}

/** Each role can do all that the roles before it can: viewer < operator < admin. */
const RANK: Record<OperatorRole, number> = { viewer: 0, operator: 1, admin: 2 };

/** Changes under these route prefixes are admin's: what every payment does, and who may call. */
const ADMIN_AREAS = ["/ops/policies", "/ops/psps", "/ops/merchants"] as const;

/**
 * The role a request needs, by method and route pattern: reads are a viewer's; changes to
 * policies, PSP rotation, merchants and keys an admin's; every other change (dead-letter redrive,
 * reconciliation resolve, settlement upload, read-model rebuild, payment requery/resolve) is a fix,
 * an operator's.
 */
export function requiredRole(method: string, url: string): OperatorRole {
  if (method === "GET" || method === "HEAD") return "viewer";
  if (ADMIN_AREAS.some((area) => url === area || url.startsWith(`${area}/`))) return "admin";
  return "operator";
}

export class OperatorAuth {
  readonly #ring: KeyRing;
  readonly #roles: ReadonlyMap<string, OperatorRole>;

  constructor(keys: readonly OperatorKeyHash[]) {
    this.#ring = new KeyRing(
      keys.map((k) => ({ owner: k.name, keyHash: k.keyHash })),
      "operator",
    );
    this.#roles = new Map(keys.map((k) => [k.name, k.role ?? "admin"]));
  }

  /** From configuration: `{ name, key, role }`, hashed here; the plain keys are not kept. No role: admin. */
  static fromKeys(keys: ReadonlyArray<{ name: string; key: string; role?: OperatorRole }>): OperatorAuth {
    return new OperatorAuth(
      keys.map((k) => ({ name: k.name, keyHash: hashApiKey(k.key), ...(k.role && { role: k.role }) })),
    );
  }

  get enabled(): boolean {
    return this.#ring.size > 0;
  }

  /** The operator whose key the header carries, or undefined for a missing, malformed or unknown key. */
  authenticate(authorizationHeader?: string): string | undefined {
    return this.#ring.match(authorizationHeader);
  }

  roleOf(name: string): OperatorRole {
    return this.#roles.get(name) ?? "viewer";
  }
}

export function decorateOperator(app: FastifyInstance): void {
  app.decorateRequest("operator", "");
  app.decorateRequest("operatorRole", OPERATOR_ROLES[0]);
}

/** onRequest hook of every /ops route. */
export function operatorAuthHook(operators: OperatorAuth, merchants: MerchantAuthenticator) {
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
      const role = operators.roleOf(operator);
      req.operator = operator;
      req.operatorRole = role;
      bindLog(req, reply, { operator });
      const required = requiredRole(req.method, req.routeOptions.url ?? req.url.split("?")[0] ?? "");
      if (RANK[role] < RANK[required]) {
        done(
          new ApiError("insufficient_role", `this needs the ${required} role; ${operator} is ${role}`, {
            required,
            role,
          }),
        );
        return;
      }
      done();
      return;
    }
    if (merchants.identify(header).ok) {
      done(new ApiError("forbidden", "a merchant key cannot use the operator API"));
      return;
    }
    reply.header("www-authenticate", 'Bearer realm="switchyard-ops"');
    done(new ApiError("unauthorized", "a valid operator key is required: Authorization: Bearer <key>"));
  };
}
