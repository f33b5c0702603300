/**
 * The OData `$filter` subset the connector uses (and a little more): comparisons `eq ne gt ge lt le` on
 * strings, numbers, booleans, GUIDs, dates and null, combined with `and`, `or`, `not` and parentheses.
 * String comparison is case-insensitive, as in Dataverse.
 */
import type { Value } from './store';

export class ODataError extends Error {
  constructor(
    message: string,
    readonly code = '0x80060888',
  ) {
    super(message);
  }
}

type Op = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
export type FilterNode =
  | { kind: 'cmp'; field: string; op: Op; value: Value }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; inner: FilterNode };

const OPS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '(' || c === ')') {
      tokens.push(c);
      i += 1;
    } else if (c === "'") {
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= text.length) throw new ODataError('Syntax error: unterminated string literal.');
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          break;
        }
        s += text[j];
        j += 1;
      }
      tokens.push(`'${s}`); // a leading quote marks a string token
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s()]/.test(text[j] as string)) j += 1;
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

export function parseFilter(text: string): FilterNode {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => {
    const t = tokens[pos];
    if (t === undefined) throw new ODataError('Syntax error: unexpected end of $filter.');
    pos += 1;
    return t;
  };
  const literal = (t: string): Value => {
    if (t.startsWith("'")) return t.slice(1);
    if (t === 'null') return null;
    if (t === 'true') return true;
    if (t === 'false') return false;
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(t)) return t.toLowerCase();
    if (/^\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:\d\d)?)?$/.test(t)) return t;
    throw new ODataError(`Syntax error at '${t}' in $filter.`);
  };
  const primary = (): FilterNode => {
    const t = next();
    if (t === '(') {
      const inner = orExpr();
      if (next() !== ')') throw new ODataError("Syntax error: ')' expected in $filter.");
      return inner;
    }
    if (t === 'not') return { kind: 'not', inner: primary() };
    const op = next();
    if (!OPS.has(op)) throw new ODataError(`Syntax error: unknown operator '${op}' in $filter.`);
    return { kind: 'cmp', field: t, op: op as Op, value: literal(next()) };
  };
  const andExpr = (): FilterNode => {
    let left = primary();
    while (peek() === 'and') {
      pos += 1;
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const orExpr = (): FilterNode => {
    let left = andExpr();
    while (peek() === 'or') {
      pos += 1;
      left = { kind: 'or', left, right: andExpr() };
    }
    return left;
  };
  const node = orExpr();
  if (pos !== tokens.length) throw new ODataError(`Syntax error at '${tokens[pos] ?? ''}' in $filter.`);
  return node;
}

export function filterFields(node: FilterNode): string[] {
  if (node.kind === 'cmp') return [node.field];
  if (node.kind === 'not') return filterFields(node.inner);
  return [...filterFields(node.left), ...filterFields(node.right)];
}

/** Orders two column values the way Dataverse does: strings case-insensitively, dates by instant, null first. */
export function compareValues(a: Value | undefined, b: Value | undefined): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'string' && typeof b === 'string') {
    const da = /^\d{4}-\d\d-\d\dT/.test(a) ? Date.parse(a) : NaN;
    const db = /^\d{4}-\d\d-\d\dT/.test(b) ? Date.parse(b) : NaN;
    if (!Number.isNaN(da) && !Number.isNaN(db)) return da - db;
    const la = a.toLowerCase();
    const lb = b.toLowerCase();
    return la < lb ? -1 : la > lb ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a).localeCompare(String(b));
}

export function evaluate(node: FilterNode, row: Record<string, Value>): boolean {
  switch (node.kind) {
    case 'and':
      return evaluate(node.left, row) && evaluate(node.right, row);
    case 'or':
      return evaluate(node.left, row) || evaluate(node.right, row);
    case 'not':
      return !evaluate(node.inner, row);
    case 'cmp': {
      const v = row[node.field] ?? null;
      if (node.value === null || v === null) {
        const same = node.value === v;
        if (node.op === 'eq') return same;
        if (node.op === 'ne') return !same;
        return false;
      }
      const c = compareValues(v, node.value);
      switch (node.op) {
        case 'eq':
          return c === 0;
        case 'ne':
          return c !== 0;
        case 'gt':
          return c > 0;
        case 'ge':
          return c >= 0;
        case 'lt':
          return c < 0;
        case 'le':
          return c <= 0;
      }
    }
  }
}
