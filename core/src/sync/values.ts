/** Value comparison shared by the merge and echo detection: systems disagree on blanks and number types. */
import type { FieldValue } from '../plugin';

/** Normalises what both systems mean by the same value: '' and null are both blank; numeric strings are numbers. */
export function normalizeValue(value: FieldValue | undefined): FieldValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed === '') return null;
    return trimmed;
  }
  return value;
}

/** `caseInsensitive`: strings differing only in letter case are equal (emails). */
export function valuesEqual(a: FieldValue | undefined, b: FieldValue | undefined, caseInsensitive = false): boolean {
  const x = normalizeValue(a);
  const y = normalizeValue(b);
  if (x === y) return true;
  if (x === null || y === null) return false;
  if (caseInsensitive && typeof x === 'string' && typeof y === 'string') return x.toLowerCase() === y.toLowerCase();
  if (typeof x === 'number' || typeof y === 'number') return Number(x) === Number(y);
  if (typeof x === 'boolean' || typeof y === 'boolean') return String(x).toLowerCase() === String(y).toLowerCase();
  return false;
}

export function isBlank(value: FieldValue | undefined): boolean {
  return normalizeValue(value) === null;
}
