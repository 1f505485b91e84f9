// /openapi.json as a client generator reads it: named component schemas that the routes $ref,
// each route's own error codes (not every code of a status), the traceparent and Idempotency-Key
// headers, and the system routes (/metrics, /openapi.json) documented too.
import { expect } from "chai";
import { startGateway, type Harness } from "./gateway-harness.ts";

type Json = Record<string, unknown>;
type Operation = {
  parameters?: Array<{ $ref?: string; name?: string; in?: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Json }> }>;
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; parameters: Record<string, Json> };
};

/** The component a schema names: a direct $ref, or the one ref of an allOf that adds a description. */
function refOf(schema: Json | undefined): string | undefined {
  if (!schema) return undefined;
  if (typeof schema.$ref === "string") return schema.$ref;
  const all = schema.allOf as Json[] | undefined;
  return all?.length === 1 ? refOf(all[0]) : undefined;
}

describe("gateway: OpenAPI document", function () {
  let h: Harness;
  let doc: Doc;

  before(async () => {
    h = await startGateway();
    doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as Doc;
  });
  after(async () => {
    await h?.close();
  });

  const op = (path: string, method: string) => {
    const o = doc.paths[path]?.[method];
    if (!o) throw new Error(`${method} ${path} is not documented`);
    return o;
  };
  const json = (o: Operation, status: string) => o.responses[status]?.content?.["application/json"]?.schema;

  it("names Payment, Error and the request bodies as component schemas", () => {
    expect(doc.components.schemas).to.include.keys(
      "Payment",
      "Error",
      "CreatePaymentRequest",
      "CaptureRequest",
      "RefundRequest",
      "CancelRequest",
    );
    expect(doc.components.schemas).not.to.have.any.keys("PaymentInput", "CreatePaymentRequestInput");
  });

  it("makes the routes $ref them: bodies, payments and errors", () => {
    const create = op("/v1/payments", "post");
    expect(refOf(create.requestBody?.content["application/json"]?.schema)).to.equal(
      "#/components/schemas/CreatePaymentRequest",
    );
    expect(refOf(json(create, "201"))).to.equal("#/components/schemas/Payment");
    expect(refOf(json(create, "400"))).to.equal("#/components/schemas/Error");
    expect(refOf(json(op("/v1/payments/{id}", "get"), "200"))).to.equal("#/components/schemas/Payment");
    expect(refOf(json(op("/v1/payments/{id}/capture", "post"), "409"))).to.equal(
      "#/components/schemas/Error",
    );
  });

  it("resolves every $ref in the document", () => {
    const refs = JSON.stringify(doc).match(/"#\/components\/[^"]+"/g) ?? [];
    expect(refs).not.to.be.empty;
    for (const ref of new Set(refs)) {
      const [, , kind, name] = (JSON.parse(ref) as string).split("/");
      expect((doc.components as Record<string, Json>)[kind!]?.[name!], ref).to.not.equal(undefined);
    }
  });

  it("lists per route only the error codes it can return", () => {
    const get = op("/v1/payments/{id}", "get");
    expect(get.responses).to.include.keys("400", "401", "404", "503");
    expect(get.responses).not.to.have.any.keys("409", "422", "413");
    expect(get.responses["400"]!.description).not.to.include("idempotency_key_missing");
    expect(get.responses["404"]!.description).to.equal("Error: payment_not_found");
    const create = op("/v1/payments", "post");
    expect(create.responses).not.to.have.any.keys("404", "409");
    expect(create.responses["422"]!.description).to.include("currency_not_supported");
    expect((create as { description?: string }).description).to.match(/currencies .*\(here: .*EUR/);
    expect(create.responses["422"]!.description).not.to.include("amount_too_large");
    expect(create.responses["400"]!.description).to.include("card_number_in_free_text");
    const capture = op("/v1/payments/{id}/capture", "post");
    expect(capture.responses["409"]!.description).to.include("invalid_state_transition");
    expect(capture.responses["422"]!.description).to.include("amount_too_large");
    expect(capture.responses["422"]!.description).not.to.include("currency_not_supported");
    for (const status of ["414", "431", "408"]) expect(get.responses).to.include.keys(status);
  });

  it("documents traceparent on every operation and Idempotency-Key on every merchant POST", () => {
    expect(doc.components.parameters.traceparent).to.include({ name: "traceparent", in: "header" });
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, o] of Object.entries(ops)) {
        const refs = (o.parameters ?? []).map((p) => p.$ref);
        expect(refs, `${method} ${path}`).to.include("#/components/parameters/traceparent");
        if (method === "post" && path.startsWith("/v1/"))
          expect(
            o.parameters?.find((p) => p.name === "idempotency-key"),
            `${method} ${path}`,
          ).to.include({
            in: "header",
            required: true,
          });
      }
  });

  it("documents /metrics and /openapi.json themselves", () => {
    expect(op("/metrics", "get").responses["200"]!.content).to.have.key("text/plain");
    expect(op("/openapi.json", "get").responses).to.have.key("200");
  });
});
