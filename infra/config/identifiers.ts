// PostgreSQL names as partman-stack accepts and quotes them. Declared names must be plain
// lower-case identifiers, so a quote or semicolon in a stack file is refused, never escaped into SQL.

const IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;
/** NAMEDATALEN - 1: PostgreSQL truncates longer names silently. */
export const MAX_NAME_BYTES = 63;

/** Why `name` is not an identifier partman-stack accepts, or null if it is one. */
export function identifierProblem(name: string): string | null {
  if (name === "") return "it is empty";
  if (/["';\\\s]/.test(name)) return "it contains a quote, semicolon, backslash or space";
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `it is longer than ${MAX_NAME_BYTES} bytes, which PostgreSQL would truncate`;
  if (!IDENTIFIER.test(name)) return "it is not a lower-case identifier (a–z, 0–9, _ and $, not starting with a digit)";
  return null;
}

// The driver's quoting, under the names some twenty modules call it by. escapeLiteral writes a value
// holding a backslash as an E'…' string, which reads the same whatever standard_conforming_strings is.
export { escapeIdentifier as quoteIdent, escapeLiteral as quoteLiteral } from "pg";

/** A function's name with its schema: a bare name is taken to be in `schema` (a table's), so it
 *  never depends on the search_path it is called under, where another schema could shadow it. */
export function qualifiedFunction(name: string, schema: string): string {
  return name.includes(".") ? name : `${schema}.${name}`;
}
