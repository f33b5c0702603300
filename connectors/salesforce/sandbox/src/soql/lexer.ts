/**
 * SOQL tokens: identifiers (keywords are identifiers read case-insensitively), single-quoted string literals
 * with backslash escapes, numbers, date and datetime literals, comparison operators and punctuation.
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm
 */
import { SoqlError } from './error';

export type TokenKind = 'ident' | 'string' | 'number' | 'datetime' | 'date' | 'op' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The text as written (for strings: the value after escapes). */
  text: string;
  /** Offset in the query of the token's first character. */
  pos: number;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  N: '\n',
  r: '\r',
  R: '\r',
  t: '\t',
  T: '\t',
  b: '\b',
  B: '\b',
  f: '\f',
  F: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
};

/**
 * The documented forms are `YYYY-MM-DDThh:mm:ss` with `Z` or `±hh:mm`; an org also reads fractional seconds of any
 * length (public report: https://salesforce.stackexchange.com/questions/370738/how-do-i-use-a-time-literal-in-a-soql-query
 * "The milliseconds are optional, and can be given as any arbitrary precision"). `+hhmm` without the colon is not read.
 */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/;
const DATE = /^\d{4}-\d{2}-\d{2}(?![\w:-])/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?![\w.])/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/;

export function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query.charAt(i);
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const rest = query.slice(i);
    if (c === "'") {
      const { value, end } = readString(query, i);
      tokens.push({ kind: 'string', text: value, pos: i });
      i = end;
      continue;
    }
    const dt = DATETIME.exec(rest) ?? undefined;
    if (dt) {
      tokens.push({ kind: 'datetime', text: dt[0], pos: i });
      i += dt[0].length;
      continue;
    }
    const d = DATE.exec(rest) ?? undefined;
    if (d) {
      tokens.push({ kind: 'date', text: d[0], pos: i });
      i += d[0].length;
      continue;
    }
    const n = NUMBER.exec(rest) ?? undefined;
    if (n && (/[\d.]/.test(c) || isValueContext(tokens))) {
      tokens.push({ kind: 'number', text: n[0], pos: i });
      i += n[0].length;
      continue;
    }
    const id = IDENT.exec(rest) ?? undefined;
    if (id) {
      tokens.push({ kind: 'ident', text: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const two = rest.slice(0, 2);
    if (two === '!=' || two === '<=' || two === '>=' || two === '<>') {
      tokens.push({ kind: 'op', text: two, pos: i });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>') {
      tokens.push({ kind: 'op', text: c, pos: i });
      i += 1;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c, pos: i });
      i += 1;
      continue;
    }
    throw new SoqlError('MALFORMED_QUERY', query, i, `unexpected token: '${c}'`);
  }
  tokens.push({ kind: 'eof', text: '<EOF>', pos: query.length });
  return tokens;
}

/** A sign belongs to a number only where a value is expected (after an operator, `(` or `,`). */
function isValueContext(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  return last !== undefined && (last.kind === 'op' || (last.kind === 'punct' && last.text !== ')'));
}

function readString(query: string, start: number): { value: string; end: number } {
  let value = '';
  let i = start + 1;
  while (i < query.length) {
    const c = query.charAt(i);
    if (c === "'") return { value, end: i + 1 };
    if (c === '\\') {
      const next = query.charAt(i + 1);
      if (next === 'u') {
        const hex = query.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new SoqlError('MALFORMED_QUERY', query, i, 'Invalid string literal');
        value += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        continue;
      }
      if (next === '%' || next === '_') {
        // Kept escaped: only LIKE gives \% and \_ a meaning (a literal % or _).
        value += `\\${next}`;
        i += 2;
        continue;
      }
      const mapped = ESCAPES[next];
      if (mapped === undefined) {
        throw new SoqlError(
          'MALFORMED_QUERY',
          query,
          i,
          `Invalid string literal '${query.slice(start, i + 2)}'. Illegal character sequence '\\${next}' in string literal.`,
        );
      }
      value += mapped;
      i += 2;
      continue;
    }
    value += c;
    i += 1;
  }
  throw new SoqlError('MALFORMED_QUERY', query, start, 'unterminated string literal');
}
