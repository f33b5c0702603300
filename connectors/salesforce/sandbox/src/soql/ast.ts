/** The parsed form of the SOQL subset the sandbox runs. */

export interface FieldRef {
  name: string;
  pos: number;
}

export type Literal =
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: number; text: string; pos: number }
  | { kind: 'boolean'; value: boolean; pos: number }
  | { kind: 'null'; pos: number }
  | { kind: 'datetime'; text: string; pos: number }
  | { kind: 'date'; text: string; pos: number };

export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Condition =
  | { kind: 'compare'; field: FieldRef; op: ComparisonOp; value: Literal }
  | { kind: 'in'; field: FieldRef; negated: boolean; values: Literal[] }
  | { kind: 'like'; field: FieldRef; pattern: Literal }
  | { kind: 'and'; terms: Condition[] }
  | { kind: 'or'; terms: Condition[] }
  | { kind: 'not'; term: Condition };

export interface OrderItem {
  field: FieldRef;
  descending: boolean;
  nullsLast: boolean;
}

export interface SelectQuery {
  /** `SELECT COUNT()`: only the number of matching records. */
  count: boolean;
  fields: FieldRef[];
  object: { name: string; pos: number };
  where?: Condition;
  orderBy: OrderItem[];
  limit?: number;
  offset?: number;
}
