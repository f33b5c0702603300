/**
 * A recursive-descent parser for
 * `SELECT <fields> | COUNT() FROM <object> [WHERE <condition>] [ORDER BY <field> [ASC|DESC] [NULLS FIRST|LAST], …]
 * [LIMIT n] [OFFSET n]`. As documented, AND, OR and NOT cannot be mixed at one level without parentheses.
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm
 * https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-logicaloperators.html
 */
import type { ComparisonOp, Condition, FieldRef, Literal, OrderItem, SelectQuery } from './ast';
import { SoqlError } from './error';
import { tokenize, type Token } from './lexer';

const RESERVED = new Set([
  'and',
  'asc',
  'by',
  'desc',
  'from',
  'in',
  'like',
  'limit',
  'not',
  'null',
  'nulls',
  'offset',
  'or',
  'order',
  'select',
  'where',
  'true',
  'false',
  'first',
  'last',
  'group',
  'having',
  'with',
  'for',
  'using',
  'includes',
  'excludes',
]);

export function parseSoql(query: string): SelectQuery {
  return new Parser(query).parse();
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;

  constructor(private readonly query: string) {
    this.tokens = tokenize(query);
  }

  parse(): SelectQuery {
    this.expectKeyword('select');
    let count = false;
    const fields: FieldRef[] = [];
    if (this.isKeyword('count') && this.peek(1).text === '(') {
      this.next();
      this.expectPunct('(');
      this.expectPunct(')');
      count = true;
    } else {
      fields.push(this.fieldRef());
      while (this.peek().text === ',') {
        this.next();
        fields.push(this.fieldRef());
      }
    }
    this.expectKeyword('from');
    const objectToken = this.next();
    if (objectToken.kind !== 'ident' || RESERVED.has(objectToken.text.toLowerCase())) {
      throw this.unexpected(objectToken);
    }
    const query: SelectQuery = { count, fields, object: { name: objectToken.text, pos: objectToken.pos }, orderBy: [] };
    if (this.isKeyword('where')) {
      this.next();
      query.where = this.condition();
    }
    if (this.isKeyword('order')) {
      this.next();
      this.expectKeyword('by');
      query.orderBy.push(this.orderItem());
      while (this.peek().text === ',') {
        this.next();
        query.orderBy.push(this.orderItem());
      }
    }
    if (this.isKeyword('limit')) {
      this.next();
      query.limit = this.nonNegativeInteger();
    }
    if (this.isKeyword('offset')) {
      this.next();
      query.offset = this.nonNegativeInteger();
    }
    const end = this.next();
    if (end.kind !== 'eof') throw this.unexpected(end);
    return query;
  }

  // ---- conditions --------------------------------------------------------------------------------------

  /** A chain of terms joined by one kind of operator; mixing AND and OR (or NOT) needs parentheses. */
  private condition(): Condition {
    const first = this.term();
    const terms: Condition[] = [first.condition];
    let joiner: 'and' | 'or' | undefined;
    const sawNot = first.negated;
    while (this.isKeyword('and') || this.isKeyword('or')) {
      const opToken = this.peek();
      const op = opToken.text.toLowerCase() as 'and' | 'or';
      if (sawNot || (joiner !== undefined && joiner !== op)) throw this.unexpected(opToken);
      joiner = op;
      this.next();
      const next = this.term();
      if (next.negated) throw this.unexpected(this.tokens[this.i - 1] ?? opToken, next.notToken);
      terms.push(next.condition);
    }
    if (terms.length === 1) return first.condition;
    return joiner === 'or' ? { kind: 'or', terms } : { kind: 'and', terms };
  }

  private term(): { condition: Condition; negated: boolean; notToken?: Token } {
    if (this.isKeyword('not')) {
      const notToken = this.next();
      const inner = this.term();
      if (inner.negated) throw this.unexpected(notToken);
      return { condition: { kind: 'not', term: inner.condition }, negated: true, notToken };
    }
    if (this.peek().text === '(' && this.peek().kind === 'punct') {
      this.next();
      const inner = this.condition();
      this.expectPunct(')');
      return { condition: inner, negated: false };
    }
    return { condition: this.fieldExpression(), negated: false };
  }

  private fieldExpression(): Condition {
    const field = this.fieldRef();
    const t = this.peek();
    if (t.kind === 'op') {
      this.next();
      const op = (t.text === '<>' ? '!=' : t.text) as ComparisonOp;
      return { kind: 'compare', field, op, value: this.literal() };
    }
    if (this.isKeyword('like')) {
      this.next();
      return { kind: 'like', field, pattern: this.literal() };
    }
    let negated = false;
    if (this.isKeyword('not') && this.peekIsKeyword(1, 'in')) {
      this.next();
      negated = true;
    }
    if (this.isKeyword('in')) {
      this.next();
      this.expectPunct('(');
      const values: Literal[] = [this.literal()];
      while (this.peek().text === ',') {
        this.next();
        values.push(this.literal());
      }
      this.expectPunct(')');
      return { kind: 'in', field, negated, values };
    }
    throw this.unexpected(t);
  }

  private literal(): Literal {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.text, pos: t.pos };
      case 'number':
        return { kind: 'number', value: Number(t.text), text: t.text, pos: t.pos };
      case 'datetime':
        return { kind: 'datetime', text: t.text, pos: t.pos };
      case 'date':
        return { kind: 'date', text: t.text, pos: t.pos };
      case 'ident': {
        const lower = t.text.toLowerCase();
        if (lower === 'true' || lower === 'false') return { kind: 'boolean', value: lower === 'true', pos: t.pos };
        if (lower === 'null') return { kind: 'null', pos: t.pos };
        throw this.unexpected(t);
      }
      default:
        throw this.unexpected(t);
    }
  }

  // ---- ORDER BY, LIMIT ------------------------------------------------------------------------------------

  private orderItem(): OrderItem {
    const field = this.fieldRef();
    let descending = false;
    if (this.isKeyword('asc') || this.isKeyword('desc')) descending = this.next().text.toLowerCase() === 'desc';
    // "By default, null values are sorted first."
    let nullsLast = false;
    if (this.isKeyword('nulls')) {
      this.next();
      const which = this.next();
      const lower = which.text.toLowerCase();
      if (which.kind !== 'ident' || (lower !== 'first' && lower !== 'last')) throw this.unexpected(which);
      nullsLast = lower === 'last';
    }
    return { field, descending, nullsLast };
  }

  private nonNegativeInteger(): number {
    const t = this.next();
    if (t.kind !== 'number' || !/^\d+$/.test(t.text)) throw this.unexpected(t);
    return Number(t.text);
  }

  // ---- tokens -----------------------------------------------------------------------------------------

  private fieldRef(): FieldRef {
    const t = this.next();
    if (t.kind !== 'ident' || RESERVED.has(t.text.toLowerCase())) throw this.unexpected(t);
    return { name: t.text, pos: t.pos };
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i += 1;
    return t;
  }

  private isKeyword(word: string): boolean {
    return this.peekIsKeyword(0, word);
  }

  private peekIsKeyword(ahead: number, word: string): boolean {
    const t = this.peek(ahead);
    return t.kind === 'ident' && t.text.toLowerCase() === word;
  }

  private expectKeyword(word: string): void {
    const t = this.next();
    if (t.kind !== 'ident' || t.text.toLowerCase() !== word) throw this.unexpected(t);
  }

  private expectPunct(text: string): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) throw this.unexpected(t);
  }

  private unexpected(t: Token, at?: Token): SoqlError {
    const shown = at ?? t;
    return new SoqlError(
      'MALFORMED_QUERY',
      this.query,
      shown.pos,
      `unexpected token: '${shown.kind === 'string' ? `'${shown.text}'` : shown.text}'`,
    );
  }
}
