// Compiled response serialization for the hot routes: the zod response schema, turned once into a
// JSON Schema and then into a fast-json-stringify function. Our own views are trusted (no zod parse
// of what our worker produced), yet only the fields the schema names go out — an internal field
// added to a view by mistake is dropped, not leaked — and a view missing a required field throws
// (500 internal_error) rather than answering half a payment.
import fastJson from "fast-json-stringify";
import { z } from "zod";

type Compiler = (route: { schema: unknown }) => (data: unknown) => string;

const cache = new WeakMap<object, (data: unknown) => string>();

export const compiledSerializer: Compiler = ({ schema }) => {
  if (!(schema instanceof z.ZodType)) return (data) => JSON.stringify(data);
  const hit = cache.get(schema);
  if (hit) return hit;
  const json = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" });
  const fn = fastJson(json as Parameters<typeof fastJson>[0]);
  cache.set(schema, fn);
  return fn;
};
