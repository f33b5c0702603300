/**
 * What an org's administrator adds on top of a vanilla org, for tests: validation rules (a failing rule is
 * FIELD_CUSTOM_VALIDATION_EXCEPTION with the rule's message) and a duplicate rule matching on Email (a blocked
 * save is DUPLICATES_DETECTED with a `duplicateResult`).
 * https://help.salesforce.com/s/articleView?id=sf.fields_about_field_validation.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_duplicateresult.htm
 */
import type { DataObjectName } from './schema';
import type { Value } from './store';

/** A condition under which the rule's error fires, on the record as it would be saved. */
export type RuleCondition =
  | { field: string; operator: 'equals' | 'notEquals' | 'contains' | 'startsWith'; value: string | number | boolean }
  | { field: string; operator: 'isBlank' | 'isNotBlank' };

export interface ValidationRule {
  object: DataObjectName;
  /** The rule's API name. */
  name: string;
  /** The error message the administrator wrote. */
  message: string;
  /** The field the error is shown at (its `fields`); unset: at the top of the page (`fields: []`). */
  errorDisplayField?: string;
  /** The error condition: a declarative one, or (in-process only) any predicate of the record. */
  when: RuleCondition | ((record: Readonly<Record<string, Value>>, operation: 'create' | 'update') => boolean);
}

export interface DuplicateRuleSettings {
  /** true: the duplicate is saved anyway (the rule only alerts, which the REST API does not report). */
  allowSave: boolean;
}

export function ruleFires(
  rule: ValidationRule,
  record: Readonly<Record<string, Value>>,
  op: 'create' | 'update',
): boolean {
  const when = rule.when;
  if (typeof when === 'function') return when(record, op);
  const entry = Object.entries(record).find(([k]) => k.toLowerCase() === when.field.toLowerCase());
  const v = entry?.[1] ?? null;
  switch (when.operator) {
    case 'isBlank':
      return v === null || v === '';
    case 'isNotBlank':
      return v !== null && v !== '';
    case 'equals':
      return v === when.value;
    case 'notEquals':
      return v !== when.value;
    case 'contains':
      return typeof v === 'string' && v.includes(String(when.value));
    case 'startsWith':
      return typeof v === 'string' && v.startsWith(String(when.value));
  }
}

export function isRuleCondition(value: unknown): value is RuleCondition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.field !== 'string') return false;
  if (v.operator === 'isBlank' || v.operator === 'isNotBlank') return true;
  return (
    ['equals', 'notEquals', 'contains', 'startsWith'].includes(String(v.operator)) &&
    ['string', 'number', 'boolean'].includes(typeof v.value)
  );
}
