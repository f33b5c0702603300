/**
 * SOQL text: literals, and look-ups split to fit the request URI. Salesforce takes 16,384 bytes of URI and headers
 * together (414 or 431 beyond; help article 000386264), and a proxy on the way may take less, or drop the
 * connection: a look-up's `IN` or `OR` list is sized by its encoded length, and a refusal halves the size for
 * the rest of the process (`UriBudget`).
 * Quoted strings: https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm
 */

/** A SOQL string literal: backslash, quote and control characters escaped. */
export function soqlString(value: string): string {
  const escaped = value.replace(/[\\'"\n\r\t\b\f]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\b':
        return '\\b';
      case '\f':
        return '\\f';
      default:
        return `\\${c}`;
    }
  });
  return `'${escaped}'`;
}

/** A LIKE pattern matching `value` anywhere: `%` and `_` in the value taken literally. */
export function soqlLikeAnywhere(value: string): string {
  const literal = soqlString(value)
    .slice(1, -1)
    .replace(/[%_]/g, (c) => `\\${c}`);
  return `'%${literal}%'`;
}

/** A datetime literal, to the second (`2026-12-07T01:05:55Z`): SOQL compares datetimes to the second. */
export function soqlDateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A text as a URI query value: `encodeURIComponent`, and the quote too, which a URL in a query encodes itself (it is
 * in the WHATWG "special-query percent-encode set"): what is counted is then what is sent.
 */
export function encodeQueryValue(text: string): string {
  return encodeURIComponent(text).replace(/'/g, '%27');
}

/** Bytes a text takes in a URI query once encoded. */
export function encodedBytes(text: string): number {
  return encodeQueryValue(text).length;
}

/** The headers a request carries (session, host, accept, content negotiation), counted against the same limit. */
export const HEADER_ALLOWANCE_BYTES = 1024;
/** A look-up URI shorter than this is never suspected of being too long. */
export const SHORTEST_BUDGET_BYTES = 2048;

/** What was learnt per org about how long a look-up URI may be, kept for the life of the process. */
const learned = new Map<string, number>();

export class UriBudget {
  constructor(
    private readonly org: string,
    private readonly maxUriBytes: number,
  ) {}

  /** Bytes of URI (path and query) a look-up may take now. */
  get bytes(): number {
    return learned.get(this.org) ?? this.maxUriBytes - HEADER_ALLOWANCE_BYTES;
  }

  /** A URI of `uriBytes` was refused: look-ups take at most half of it from now on. Answers the new budget. */
  refused(uriBytes: number): number {
    const next = Math.max(SHORTEST_BUDGET_BYTES, Math.min(this.bytes, Math.floor(uriBytes / 2)));
    learned.set(this.org, next);
    return next;
  }
}

/** Splits items into chunks whose encoded sizes (plus `fixed` each) stay within `budget`. */
export function chunkByBytes<T>(items: readonly T[], size: (item: T) => number, fixed: number, budget: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let used = fixed;
  for (const item of items) {
    const n = size(item);
    if (current.length > 0 && used + n > budget) {
      chunks.push(current);
      current = [];
      used = fixed;
    }
    current.push(item);
    used += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
