/**
 * Turns a parsed query into a filter and an ordering over stored records, checking it against the object's
 * fields as the integration user sees them (a field hidden by field-level security is "No such column").
 * Comparisons follow the SOQL reference: text compares case-insensitively, `!=` and `NOT IN` keep records
 * whose value is null, ordering is case-insensitive with nulls first unless `NULLS LAST`.
 * https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-comparisonoperators.html
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_orderby.htm
 */
import { parseDate, parseDateTime } from '../datetime';
import { normalizeId } from '../ids';
import { isTextType, type FieldDef, type ObjectName } from '../schema';
import type { StoredRecord, Value } from '../store';
import type { Condition, FieldRef, Literal, SelectQuery } from './ast';
import { SoqlError } from './error';

export interface CompiledQuery {
  object: ObjectName;
  count: boolean;
  fields: FieldDef[];
  matches(record: StoredRecord): boolean;
  compare(a: StoredRecord, b: StoredRecord): number;
  limit?: number;
  offset?: number;
}

export interface QueryContext {
  query: string;
  /** The object an API name means, or undefined. */
  objectNamed(name: string): ObjectName | undefined;
  /** A field the integration user can see, by case-insensitive name, or undefined. */
  visibleField(object: ObjectName, name: string): FieldDef | undefined;
}

/** OFFSET is capped at 2,000 rows (SOQL reference, OFFSET). */
const MAX_OFFSET = 2000;

export function compileQuery(ast: SelectQuery, ctx: QueryContext): CompiledQuery {
  const object = ctx.objectNamed(ast.object.name);
  if (!object) {
    throw new SoqlError(
      'INVALID_TYPE',
      ctx.query,
      ast.object.pos,
      `sObject type '${ast.object.name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
    );
  }
  const resolve = (ref: FieldRef): FieldDef => {
    if (ref.name.includes('.')) {
      const relationship = ref.name.split('.')[0] ?? ref.name;
      throw new SoqlError(
        'INVALID_FIELD',
        ctx.query,
        ref.pos,
        `Didn't understand relationship '${relationship}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    const f = ctx.visibleField(object, ref.name);
    if (!f) {
      throw new SoqlError(
        'INVALID_FIELD',
        ctx.query,
        ref.pos,
        `No such column '${ref.name}' on entity '${object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
      );
    }
    return f;
  };

  const fields: FieldDef[] = [];
  for (const ref of ast.fields) {
    const f = resolve(ref);
    if (fields.includes(f)) {
      throw new SoqlError('MALFORMED_QUERY', ctx.query, ref.pos, `duplicate field selected: ${f.name}`);
    }
    fields.push(f);
  }

  const predicate = ast.where ? compileCondition(ast.where, resolve, ctx.query) : () => true;

  const order = ast.orderBy.map((item) => {
    const f = resolve(item.field);
    if (!f.sortable) {
      throw new SoqlError(
        'INVALID_FIELD',
        ctx.query,
        item.field.pos,
        `field '${f.name}' can not be sorted in a query call`,
      );
    }
    return { field: f, descending: item.descending, nullsLast: item.nullsLast };
  });

  if (ast.offset !== undefined && ast.offset > MAX_OFFSET) {
    throw new SoqlError(
      'NUMBER_OUTSIDE_VALID_RANGE',
      ctx.query,
      ast.object.pos,
      `Maximum SOQL offset allowed is ${MAX_OFFSET}`,
    );
  }

  return {
    object,
    count: ast.count,
    fields,
    matches: predicate,
    compare: (a, b) => {
      for (const o of order) {
        const va = a.values[o.field.name] ?? null;
        const vb = b.values[o.field.name] ?? null;
        if (va === null && vb === null) continue;
        if (va === null) return o.nullsLast ? 1 : -1;
        if (vb === null) return o.nullsLast ? -1 : 1;
        const c = compareValues(o.field, va, vb);
        if (c !== 0) return o.descending ? -c : c;
      }
      return 0;
    },
    limit: ast.limit,
    offset: ast.offset,
  };
}

/** Orders two non-null values of a field: text case-insensitively (upper-cased, as SOQL sorts). */
function compareValues(field: FieldDef, a: Value, b: Value): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const [x, y] = isTextType(field.type) ? [a.toUpperCase(), b.toUpperCase()] : [a, b];
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return Number(a) - Number(b);
}

type Predicate = (record: StoredRecord) => boolean;

function compileCondition(cond: Condition, resolve: (ref: FieldRef) => FieldDef, query: string): Predicate {
  switch (cond.kind) {
    case 'and': {
      const parts = cond.terms.map((t) => compileCondition(t, resolve, query));
      return (r) => parts.every((p) => p(r));
    }
    case 'or': {
      const parts = cond.terms.map((t) => compileCondition(t, resolve, query));
      return (r) => parts.some((p) => p(r));
    }
    case 'not': {
      const inner = compileCondition(cond.term, resolve, query);
      return (r) => !inner(r);
    }
    case 'compare': {
      const f = filterable(resolve(cond.field), cond.field, query);
      const value = literalFor(f, cond.value, query);
      if (value === null && cond.op !== '=' && cond.op !== '!=') {
        throw new SoqlError('MALFORMED_QUERY', query, cond.value.pos, `invalid operator on null: ${cond.op}`);
      }
      if (f.type === 'boolean' && cond.op !== '=' && cond.op !== '!=') {
        throw new SoqlError(
          'INVALID_QUERY_FILTER_OPERATOR',
          query,
          cond.field.pos,
          `invalid operator on boolean field: ${cond.op}`,
        );
      }
      return (r) => {
        const v = r.values[f.name] ?? null;
        if (cond.op === '=') return equalValues(f, v, value);
        if (cond.op === '!=') return !equalValues(f, v, value);
        if (v === null || value === null) return false;
        const c = compareValues(f, v, value);
        switch (cond.op) {
          case '<':
            return c < 0;
          case '<=':
            return c <= 0;
          case '>':
            return c > 0;
          default:
            return c >= 0;
        }
      };
    }
    case 'in': {
      const f = filterable(resolve(cond.field), cond.field, query);
      const values = cond.values.map((l) => literalFor(f, l, query));
      return (r) => {
        const v = r.values[f.name] ?? null;
        const found = values.some((x) => equalValues(f, v, x));
        return cond.negated ? !found : found;
      };
    }
    case 'like': {
      const f = filterable(resolve(cond.field), cond.field, query);
      if (!isTextType(f.type) && f.type !== 'id' && f.type !== 'reference') {
        throw new SoqlError('INVALID_FIELD', query, cond.field.pos, `invalid operator on ${f.type} field: LIKE`);
      }
      if (cond.pattern.kind !== 'string') {
        throw new SoqlError(
          'INVALID_QUERY_FILTER_OPERATOR',
          query,
          cond.pattern.pos,
          `value of filter criterion for field '${f.name}' must be of type string and should be enclosed in quotes`,
        );
      }
      const regex = likeToRegExp(cond.pattern.value);
      return (r) => {
        const v = r.values[f.name];
        return typeof v === 'string' && regex.test(v);
      };
    }
  }
}

function filterable(f: FieldDef, ref: FieldRef, query: string): FieldDef {
  // A compound address is filtered only through DISTANCE(), which the sandbox does not run; never compared.
  if (!f.filterable || f.type === 'address') {
    throw new SoqlError('INVALID_FIELD', query, ref.pos, `field '${f.name}' can not be filtered in a query call`);
  }
  return f;
}

/** `%` matches any run of characters, `_` one character, `\%` and `\_` themselves; case-insensitive. */
function likeToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\' && (pattern.charAt(i + 1) === '%' || pattern.charAt(i + 1) === '_')) {
      source += pattern.charAt(i + 1);
      i += 1;
    } else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'i');
}

function equalValues(f: FieldDef, v: Value, x: Value): boolean {
  if (v === null || x === null) return v === x;
  if (typeof v === 'string' && typeof x === 'string' && isTextType(f.type)) {
    return v.toLowerCase() === x.toLowerCase();
  }
  return v === x;
}

/** A literal as a stored value of the field's type, or a filter error naming the type the field needs. */
function literalFor(f: FieldDef, lit: Literal, query: string): Value {
  if (lit.kind === 'null') return null;
  const wrongType = (type: string, quoted: boolean) =>
    new SoqlError(
      'INVALID_QUERY_FILTER_OPERATOR',
      query,
      lit.pos,
      `value of filter criterion for field '${f.name}' must be of type ${type} and ${quoted ? 'should be enclosed in quotes' : 'should not be enclosed in quotes'}`,
    );
  switch (f.type) {
    case 'id':
    case 'reference': {
      if (lit.kind !== 'string') throw wrongType('id', true);
      const id = normalizeId(lit.value);
      if (!id) throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', query, lit.pos, `invalid ID field: ${lit.value}`);
      return id;
    }
    case 'boolean':
      if (lit.kind !== 'boolean') throw wrongType('boolean', false);
      return lit.value;
    case 'datetime': {
      if (lit.kind !== 'datetime') throw wrongType('dateTime', false);
      const ms = parseDateTime(lit.text);
      if (ms === undefined)
        throw new SoqlError(
          'MALFORMED_QUERY',
          query,
          lit.pos,
          `line 1:${lit.pos} no viable alternative at character '${lit.text}'`,
        );
      return ms;
    }
    case 'date': {
      if (lit.kind !== 'date') throw wrongType('date', false);
      const ms = parseDate(lit.text);
      if (ms === undefined) throw new SoqlError('MALFORMED_QUERY', query, lit.pos, `invalid date: ${lit.text}`);
      return ms;
    }
    case 'double':
    case 'currency':
    case 'int':
      if (lit.kind !== 'number') throw wrongType('double', false);
      return lit.value;
    default:
      if (lit.kind !== 'string') throw wrongType('string', true);
      return lit.value;
  }
}
