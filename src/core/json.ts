/**
 * JSON as it arrives from a file or the network: typed as what `JSON.parse` can return, never as
 * the document it should be, until a validator has checked it.
 */

/** A value `JSON.parse` can return. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** An object `JSON.parse` can return. */
export type JsonObject = { [key: string]: JsonValue };

/** `JSON.parse`, typed as what it returns: a JSON value, not `any`. Throws `SyntaxError` for bad text. */
export function parseJson(text: string): JsonValue {
  return JSON.parse(text) as JsonValue;
}

/** True for a JSON object: not null, not an array (the top level of every Updraft document). */
export function isJsonObject(value: JsonValue): value is JsonObject;
export function isJsonObject(value: unknown): value is Record<string, unknown>;
export function isJsonObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
