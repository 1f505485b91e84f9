// Checks of the operator API's answers for the policy specs (gateway-ops-policies-*.int.spec.ts): a
// JSON body read at the status expected, an error envelope with its code, and a second routing
// policy to upload (amex to bolt, bolt first).
import { expect } from "chai";

export type ErrorJson = {
  error: {
    code: string;
    message: string;
    details: { problems?: Array<{ path: string; code: string; message: string }> };
  };
};

export async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  return JSON.parse(text) as T;
}

export async function errorOf(res: Response, status: number, code: string): Promise<ErrorJson> {
  const body = await json<ErrorJson>(res, status);
  expect(body.error.code).to.equal(code);
  expect(body.error.message).to.be.a("string").and.not.be.empty;
  return body;
}

export const ROUTING_V2 = {
  kind: "routing",
  home_country: "DE",
  rules: [{ id: "amex-to-bolt", when: { brands: ["amex"] }, then: { type: "priority", psps: ["bolt"] } }],
  fallback: ["bolt", "acme"],
};
