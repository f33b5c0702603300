/**
 * Salesforce record ids: 15 case-sensitive base-62 characters (a 3-character key prefix naming the object, then
 * instance and counter characters) plus a 3-character suffix that encodes, five characters at a time, which
 * characters are upper case, so the 18-character form survives case-insensitive systems.
 * https://help.salesforce.com/s/articleView?id=000385008 ("What are Salesforce IDs composed of?")
 */
import { randomInt } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** The 3-character case-safe suffix of a 15-character id. */
export function idSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charAt(chunk * 5 + i);
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix += SUFFIX.charAt(bits);
  }
  return suffix;
}

const ID15 = /^[0-9A-Za-z]{15}$/;
const ID18 = /^[0-9A-Za-z]{18}$/;

/**
 * The 18-character form of an id given as 15 or 18 characters, or undefined when it is not a well-formed id (an
 * 18-character id whose suffix does not match its first 15 characters, case-insensitively, is malformed).
 */
export function normalizeId(raw: string): string | undefined {
  if (ID15.test(raw)) return raw + idSuffix(raw);
  if (!ID18.test(raw)) return undefined;
  // An 18-character id is case-insensitive: its suffix says which letters are upper case.
  const suffix = raw.slice(15).toUpperCase();
  const head = raw.slice(0, 15);
  let restored = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    const bits = SUFFIX.indexOf(suffix.charAt(chunk));
    if (bits < 0) return undefined;
    for (let i = 0; i < 5; i++) {
      const c = head.charAt(chunk * 5 + i);
      restored += bits & (1 << i) ? c.toUpperCase() : c.toLowerCase();
    }
  }
  // Digits carry no case; a letter the suffix marks upper must be a letter.
  if (restored.toLowerCase() !== head.toLowerCase()) return undefined;
  for (let i = 0; i < 15; i++) {
    const marked = (SUFFIX.indexOf(suffix.charAt(Math.floor(i / 5))) & (1 << (i % 5))) !== 0;
    if (marked && !/[A-Za-z]/.test(head.charAt(i))) return undefined;
  }
  return restored + suffix;
}

function base62(n: number, width: number): string {
  let s = '';
  let v = n;
  for (let i = 0; i < width; i++) {
    s = BASE62.charAt(v % 62) + s;
    v = Math.floor(v / 62);
  }
  return s;
}

/** Makes ids for one org: `<prefix><pod 2><0><counter 9>` + suffix, increasing with each call. */
export class IdFactory {
  private counter: number;
  constructor(
    private readonly pod: string = 'Hn',
    start: number = randomInt(1_000_000, 9_000_000),
  ) {
    this.counter = start;
  }

  next(prefix: string): string {
    this.counter += 1;
    const id15 = `${prefix}${this.pod}0${base62(this.counter, 9)}`;
    return id15 + idSuffix(id15);
  }
}

/** A random, well-formed 18-character id with this prefix (an org id, a user id). */
export function randomId(prefix: string): string {
  let body = '';
  for (let i = 0; i < 12; i++) body += BASE62.charAt(randomInt(62));
  const id15 = `${prefix}${body}`;
  return id15 + idSuffix(id15);
}
