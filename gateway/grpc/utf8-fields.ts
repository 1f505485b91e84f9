// Strings of a gRPC request whose bytes are not UTF-8. proto3 says a string field holds UTF-8, but
// protobufjs (under @grpc/proto-loader) decodes whatever it gets: on Node through Buffer#utf8Slice,
// which puts U+FFFD where the bytes were not UTF-8, so a Latin-1 `reference` "café" would be stored
// as "caf\uFFFD" — not what the client sent. HTTP refuses such bytes (gateway/http-edges.ts); here the
// request's wire bytes are walked with the message's descriptor as it is decoded, and the path of
// the first such string is what the handler refuses. Pure: no I/O.
import { isUtf8 } from "node:buffer";

/** The parts of a DescriptorProto (as proto-loader gives it) that this reads. */
export type MessageDescriptor = {
  name: string;
  field: ReadonlyArray<{ name: string; number: number; type: string; typeName: string }>;
  nestedType?: readonly MessageDescriptor[];
};

/** A message type by its name as a field names it, looked up from the message that names it. */
export type ResolveType = (typeName: string, from: MessageDescriptor) => MessageDescriptor | undefined;

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;
/** Nested messages deeper than this are left to the decoder (ours nest two levels). */
const MAX_DEPTH = 16;

/**
 * The path (field names joined by ".") of the first string field in `bytes`, a message of type
 * `type`, whose bytes are not UTF-8; undefined when there is none. Bytes that are not a well-formed
 * message are not judged here (undefined): decoding them fails as it did before.
 */
export function firstNonUtf8String(
  bytes: Uint8Array,
  type: MessageDescriptor,
  resolve: ResolveType,
  depth = 0,
): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  let pos = 0;
  while (pos < bytes.length) {
    const tag = varintAt(bytes, pos);
    if (tag < 0) return undefined;
    pos = varintEnd;
    const wire = tag % 8;
    const number = Math.floor(tag / 8);
    if (wire === VARINT) {
      if (varintAt(bytes, pos) < 0) return undefined;
      pos = varintEnd;
    } else if (wire === FIXED64) pos += 8;
    else if (wire === FIXED32) pos += 4;
    else if (wire === LENGTH_DELIMITED) {
      const length = varintAt(bytes, pos);
      pos = varintEnd;
      if (length < 0 || pos + length > bytes.length) return undefined;
      const value = bytes.subarray(pos, pos + length);
      pos += length;
      const field = fieldsOf(type).get(number);
      if (field?.type === "TYPE_STRING" && !utf8(value)) return field.name;
      if (field?.type === "TYPE_MESSAGE") {
        const inner = resolve(field.typeName, type);
        const found = inner && firstNonUtf8String(value, inner, resolve, depth + 1);
        if (found !== undefined) return `${field.name}.${found}`;
      }
    } else return undefined; // groups (wire types 3, 4) and what is no wire type
  }
  return undefined;
}

/** Where the last varintAt ended (module state, not a closure per call: see card-in-text.ts). */
let varintEnd = 0;

/** The varint at `pos` (-1 when the bytes end first); varintEnd is then the byte after it. */
function varintAt(bytes: Uint8Array, pos: number): number {
  let value = 0;
  for (let shift = 0; shift < 64 && pos < bytes.length; shift += 7) {
    const b = bytes[pos++]!;
    // Lengths and tags fit in 32 bits; a larger varint only needs skipping, not its value.
    if (shift < 28) value += (b & 0x7f) << shift;
    else value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      varintEnd = pos;
      return value;
    }
  }
  return -1;
}

type Field = MessageDescriptor["field"][number];
const fieldMaps = new WeakMap<MessageDescriptor, Map<number, Field>>();

/** A message's fields by number, made once per descriptor. */
function fieldsOf(type: MessageDescriptor): Map<number, Field> {
  let fields = fieldMaps.get(type);
  if (fields === undefined) {
    fields = new Map(type.field.map((f) => [f.number, f]));
    fieldMaps.set(type, fields);
  }
  return fields;
}

/** ASCII in JS (most strings, and short), anything else by Node's validator. */
function utf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return isUtf8(bytes);
  return true;
}

/** Where a decoded request's `firstNonUtf8String` found one (set by strictUtf8Requests). */
export const NOT_UTF8 = Symbol("switchyard.grpc.notUtf8");

type MethodDefinition = {
  requestDeserialize: (bytes: Buffer) => unknown;
  requestType: { type: unknown };
};

/**
 * Each method of `service` (a proto-loader service definition) decodes as before and, when a string
 * of the request is not UTF-8, marks the decoded request with its path under NOT_UTF8: the handler
 * refuses it as invalid input (a throw here would be grpc-js's INTERNAL). `types` looks up message
 * types by their full name (the package definition).
 */
export function strictUtf8Requests(
  service: Record<string, MethodDefinition>,
  types: (fullName: string) => MessageDescriptor | undefined,
  packageName: string,
): void {
  const resolved = new Map<string, MessageDescriptor | undefined>();
  const resolve: ResolveType = (typeName, from) => {
    const key = `${from.name}/${typeName}`;
    if (!resolved.has(key))
      resolved.set(
        key,
        from.nestedType?.find((n) => n.name === typeName) ?? types(`${packageName}.${typeName}`),
      );
    return resolved.get(key);
  };
  for (const method of Object.values(service)) {
    const decode = method.requestDeserialize;
    const type = method.requestType.type as MessageDescriptor;
    method.requestDeserialize = (bytes: Buffer) => {
      const decoded = decode(bytes);
      const path = firstNonUtf8String(bytes, type, resolve);
      if (path !== undefined && typeof decoded === "object" && decoded !== null)
        Object.defineProperty(decoded, NOT_UTF8, { value: path });
      return decoded;
    };
  }
}
