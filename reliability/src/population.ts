/**
 * The people a scenario syncs, the edits it makes behind Tandem's back, and the judge of the outcome.
 *
 * For N people (sample people 0…N-1, as the benchmarks have them): Marketo holds 0…¾N; Dynamics holds ¼N…¾N as
 * contacts (the same people, matched by email, without their job titles) and ¾N…N as leads. An initial sync links
 * ½N by email, creates ¼N leads in Dynamics and ¼N persons in Marketo, and fills in the contacts' job titles.
 *
 * The judge knows the merge rules as the README states them, independently of Tandem's code: a field changed on
 * one side since the snapshot is copied to the other; changed on both, the collision policy decides (Dynamics wins
 * for contacts, Marketo for leads); a first link (no snapshot) fills blanks, and else the policy decides.
 */
import { samplePerson } from '@tandem/core/testing';
import { sampleValues } from '@tandem/sandbox-marketo';
import { sampleColumns } from '@tandem/sandbox-dynamics';
import type { LinkRecord, Systems } from './system';

type Value = string | number | boolean | null | undefined;
type DynamicsType = 'contact' | 'lead';

export interface FieldPair {
  marketo: string;
  dynamics: string;
}

/** The fields the judge checks on everyone (company only between Marketo and Dynamics leads). */
const FIELDS: FieldPair[] = [
  { marketo: 'firstName', dynamics: 'firstname' },
  { marketo: 'lastName', dynamics: 'lastname' },
  { marketo: 'title', dynamics: 'jobtitle' },
  { marketo: 'phone', dynamics: 'telephone1' },
  { marketo: 'city', dynamics: 'address1_city' },
  { marketo: 'country', dynamics: 'address1_country' },
];
const LEAD_FIELDS: FieldPair[] = [{ marketo: 'company', dynamics: 'companyname' }];
/** The fields edits are made to. */
const EDITABLE = FIELDS.filter((f) => ['firstName', 'lastName', 'phone', 'city'].includes(f.marketo));

export const emailOf = (index: number) => samplePerson(index).email;

/** Seeds both sandboxes with the N people described above. */
export function seedPeople(systems: Systems, people: number): void {
  const quarter = Math.floor(people / 4);
  for (let i = 0; i < 3 * quarter; i++) systems.marketo.createPerson(sampleValues(samplePerson(i)));
  for (let i = quarter; i < 3 * quarter; i++) {
    const { jobtitle: _blank, ...columns } = sampleColumns(samplePerson(i), 'contact');
    systems.dataverse.create('contact', columns);
  }
  for (let i = 3 * quarter; i < people; i++) systems.dataverse.create('lead', sampleColumns(samplePerson(i), 'lead'));
}

// ---- what both systems hold -----------------------------------------------------------------------------

export interface PersonRecords {
  marketo: Array<{ id: string; values: Record<string, Value> }>;
  dynamics: Array<{ type: DynamicsType; id: string; values: Record<string, Value> }>;
}

/** Every record of both systems, by (lower-cased, trimmed) email. */
export type State = Map<string, PersonRecords>;

const key = (email: Value) =>
  String(email ?? '')
    .trim()
    .toLowerCase();

export function readState(systems: Systems): State {
  const state: State = new Map();
  const entry = (email: Value): PersonRecords => {
    const k = key(email);
    let records = state.get(k);
    if (!records) state.set(k, (records = { marketo: [], dynamics: [] }));
    return records;
  };
  for (const person of systems.marketo.listPersons()) {
    entry(person.values['email']).marketo.push({ id: String(person.id), values: { ...person.values } });
  }
  for (const type of ['contact', 'lead'] as const) {
    for (const record of systems.dataverse.list(type)) {
      entry(record.values['emailaddress1']).dynamics.push({ type, id: record.id, values: { ...record.values } });
    }
  }
  return state;
}

// ---- edits behind Tandem's back -------------------------------------------------------------------------

/**
 * Where a person stood when the edits were made: linked (a saved snapshot), on one side only (the other record
 * is yet to be created), or created on the other side by a sync whose link was never saved (the process died
 * between the write and the save).
 */
export type Standing = 'linked' | 'one-sided' | 'created-unlinked';

export interface Edit {
  index: number;
  side: 'marketo' | 'dynamics';
  field: FieldPair;
  value: string;
  standing: Standing;
}

export interface EditCounts {
  marketo: number;
  dynamics: number;
  /** People edited on both sides, in the same field, differently. */
  collisions: number;
}

/** Linked links by email: both records known and a snapshot saved. */
export function linkedByEmail(links: readonly LinkRecord[]): Map<string, LinkRecord> {
  const out = new Map<string, LinkRecord>();
  for (const link of links) {
    if (link.state === 'linked' && link.left.id && link.right.id && link.email) out.set(key(link.email), link);
  }
  return out;
}

function standingOf(index: number, people: number, records: PersonRecords | undefined, linked: boolean) {
  const m = records?.marketo.length ?? 0;
  const d = records?.dynamics.length ?? 0;
  if (m > 1 || d > 1) return undefined;
  if (linked && m === 1 && d === 1) return 'linked' as const;
  if (m + d === 1) return 'one-sided' as const;
  // Both exist but are not linked: only a create the sync made (not a seeded pair, whose first link decides).
  const quarter = Math.floor(people / 4);
  const created = index < quarter || index >= 3 * quarter;
  return m === 1 && d === 1 && created ? ('created-unlinked' as const) : undefined;
}

/**
 * Picks people at random (from `random`) and edits them as a marketer or a salesperson would while Tandem is
 * down: one field each, on one side, or on both sides differently (collisions, among linked people). Values are
 * recognisable (`tag`). Nobody is edited twice.
 */
export function makeEdits(
  systems: Systems,
  people: number,
  random: () => number,
  counts: EditCounts,
  links: readonly LinkRecord[],
  tag: string,
  /** People not to edit (edited before). */
  exclude: ReadonlySet<number> = new Set(),
): Edit[] {
  const state = readState(systems);
  const linked = linkedByEmail(links);
  const standings = new Map<number, Standing>();
  for (let i = 0; i < people; i++) {
    if (exclude.has(i)) continue;
    const standing = standingOf(i, people, state.get(emailOf(i)), linked.has(emailOf(i)));
    if (standing) standings.set(i, standing);
  }
  const taken = new Set<number>();
  const pick = (eligible: (i: number) => boolean): number | undefined => {
    const candidates = [...standings.keys()].filter((i) => !taken.has(i) && eligible(i));
    if (candidates.length === 0) return undefined;
    const chosen = candidates[Math.floor(random() * candidates.length)] as number;
    taken.add(chosen);
    return chosen;
  };
  const has = (i: number, side: 'marketo' | 'dynamics') => (state.get(emailOf(i))?.[side].length ?? 0) === 1;
  const edits: Edit[] = [];
  let n = 0;
  const edit = (index: number, side: 'marketo' | 'dynamics', field: FieldPair) => {
    const value = field.marketo === 'phone' ? `+1-555-9${String(++n).padStart(3, '0')}` : `${tag}-${side}-${++n}`;
    edits.push({ index, side, field, value, standing: standings.get(index) as Standing });
  };
  const field = () => EDITABLE[Math.floor(random() * EDITABLE.length)] as FieldPair;
  for (let k = 0; k < counts.collisions; k++) {
    const i = pick((x) => standings.get(x) === 'linked');
    if (i === undefined) break;
    const f = field();
    edit(i, 'marketo', f);
    edit(i, 'dynamics', f);
  }
  for (const side of ['marketo', 'dynamics'] as const) {
    for (let k = 0; k < counts[side]; k++) {
      const i = pick((x) => has(x, side));
      if (i !== undefined) edit(i, side, field());
    }
  }
  for (const e of edits) {
    const records = state.get(emailOf(e.index)) as PersonRecords;
    if (e.side === 'marketo') {
      systems.marketo.editPerson(Number(records.marketo[0]?.id), { [e.field.marketo]: e.value });
    } else {
      const record = records.dynamics[0] as PersonRecords['dynamics'][number];
      systems.dataverse.editRecord(record.type, record.id, { [e.field.dynamics]: e.value });
    }
  }
  return edits;
}

// ---- the judge ------------------------------------------------------------------------------------------

export interface Verdict {
  people: number;
  /** People missing on a side. */
  missing: number;
  /** Records beyond the first of a person on a side. */
  duplicates: number;
  /** Edits whose value is not on both sides as the merge rules say (the policy's choice for a collision). */
  lostUpdates: number;
  /** Fields nobody edited that differ between the sides, or from what the merge rules say. */
  wrongValues: number;
  /** Every person once on each side, every value as the merge rules say, every edit there. */
  converged: boolean;
  /** The first few problems, to say what went wrong. */
  examples: string[];
}

const norm = (v: Value): string | null => (v === null || v === undefined || v === '' ? null : String(v));

/** A first link: equal values stay; a blank takes the other; else the collision policy. */
function firstLink(m: string | null, d: string | null, type: DynamicsType): string | null {
  if (m === d || d === null) return m;
  if (m === null) return d;
  return type === 'contact' ? d : m;
}

/** A linked person: the side that changed since the snapshot wins; both changed, the collision policy. */
function threeWay(m: string | null, d: string | null, base: string | null, type: DynamicsType): string | null {
  if (m === d) return m;
  if (m === base) return d;
  if (d === base) return m;
  return type === 'contact' ? d : m;
}

/**
 * Judges `after` (what both systems hold once Tandem has settled) against `before` (what they held when Tandem
 * (re)started, edits not yet made), the links Tandem had saved then, and the edits made meanwhile.
 */
export function judge(
  people: number,
  before: State,
  links: readonly LinkRecord[],
  edits: readonly Edit[],
  after: State,
): Verdict {
  const verdict: Verdict = {
    people,
    missing: 0,
    duplicates: 0,
    lostUpdates: 0,
    wrongValues: 0,
    converged: false,
    examples: [],
  };
  const note = (text: string) => {
    if (verdict.examples.length < 12) verdict.examples.push(text);
  };
  const linked = linkedByEmail(links);
  const editsOf = new Map<string, Edit[]>();
  for (const e of edits) {
    const k = `${e.index}|${e.field.marketo}`;
    editsOf.set(k, [...(editsOf.get(k) ?? []), e]);
  }
  for (let i = 0; i < people; i++) {
    const email = emailOf(i);
    const now = after.get(email) ?? { marketo: [], dynamics: [] };
    for (const side of ['marketo', 'dynamics'] as const) {
      if (now[side].length === 0) {
        verdict.missing += 1;
        note(`person ${i} is missing in ${side}`);
      }
      if (now[side].length > 1) {
        verdict.duplicates += now[side].length - 1;
        note(`person ${i} is ${now[side].length} times in ${side}`);
      }
    }
    const m = now.marketo[0];
    const d = now.dynamics[0];
    if (!m || !d) continue;
    const was = before.get(email) ?? { marketo: [], dynamics: [] };
    const base = linked.get(email)?.snapshot;
    for (const field of d.type === 'lead' ? [...FIELDS, ...LEAD_FIELDS] : FIELDS) {
      const values = { marketo: norm(m.values[field.marketo]), dynamics: norm(d.values[field.dynamics]) };
      const made = editsOf.get(`${i}|${field.marketo}`) ?? [];
      let expected: string | null;
      if (made.length > 0) {
        const bySide = (side: Edit['side']) => made.find((e) => e.side === side)?.value;
        const mEdit = bySide('marketo');
        const dEdit = bySide('dynamics');
        expected = (
          mEdit !== undefined && dEdit !== undefined ? (d.type === 'contact' ? dEdit : mEdit) : (mEdit ?? dEdit)
        ) as string;
      } else {
        const m0 = was.marketo[0] ? norm(was.marketo[0].values[field.marketo]) : undefined;
        const d0 = was.dynamics[0] ? norm(was.dynamics[0].values[field.dynamics]) : undefined;
        if (m0 === undefined) expected = d0 ?? null;
        else if (d0 === undefined) expected = m0;
        else if (base && field.marketo in base) expected = threeWay(m0, d0, norm(base[field.marketo] as Value), d.type);
        else expected = firstLink(m0, d0, d.type);
      }
      if (values.marketo === expected && values.dynamics === expected) continue;
      const what = `person ${i} ${field.marketo}: Marketo "${values.marketo}", Dynamics ${d.type} "${values.dynamics}", expected "${expected}"`;
      if (made.length > 0) {
        verdict.lostUpdates += 1;
        note(`${what} (edited: ${made.map((e) => `${e.side}, ${e.standing}`).join(' and ')})`);
      } else {
        verdict.wrongValues += 1;
        note(what);
      }
    }
  }
  verdict.converged =
    verdict.missing === 0 && verdict.duplicates === 0 && verdict.lostUpdates === 0 && verdict.wrongValues === 0;
  return verdict;
}
