/**
 * Conformance harnesses over the in-memory connector: the reference ones (which must pass every check) and
 * deliberately broken variants, each breaking one rule of the contract, which the suite must catch. A variant
 * wraps a well-behaved `MemoryConnector` and changes one behaviour, so each failure has one cause.
 */
import {
  TandemError,
  type ChangePage,
  type Connector,
  type FieldValues,
  type ReadOptions,
  type RemoteRecord,
  type WriteOp,
} from '../../src/plugin';
import {
  MemoryConnector,
  memoryPeopleObject,
  MemorySystem,
  type ConformanceCheckId,
  type ConformanceHarness,
  type ConformanceObject,
  type MemoryObjectOptions,
} from '../../src/testing';

const PAGE_SIZE = 5;

/** Contacts with uuids and etags; leads with numeric ids, no etags, and a business rule. Read-only writes refused. */
export const REFERENCE_SYSTEM: readonly MemoryObjectOptions[] = [
  memoryPeopleObject('contact', { idStyle: 'uuid', etags: true, fieldTimes: true }),
  memoryPeopleObject('lead', {
    rules: [
      (attempt) =>
        attempt.fields['company'] === 'Refused Inc'
          ? { code: 'BUSINESS_RULE', message: 'Refused Inc may not be a lead' }
          : undefined,
    ],
  }),
];

const person = (objectType: string): Omit<ConformanceObject, 'readOnlyWrites'> => ({
  objectType,
  emailField: 'email',
  writableStrings: ['title', 'company'],
  readableField: 'firstName',
  pageSize: PAGE_SIZE,
});

export const REFERENCE_OBJECTS: readonly ConformanceObject[] = [
  { ...person('contact'), readOnlyWrites: 'rejected', refusedValues: { score: 'high' } },
  {
    ...person('lead'),
    readOnlyWrites: 'rejected',
    refusedValues: { company: 'Refused Inc' },
    skip: { 'write.etag': 'leads are configured without etags' },
  },
];

/** A harness starting a fresh `MemorySystem` of `objects` each time, with the connector `wrap` makes of it. */
export function memoryHarness(
  name: string,
  system: readonly MemoryObjectOptions[],
  objects: readonly ConformanceObject[],
  wrap: (inner: MemoryConnector) => Connector = (inner) => inner,
): ConformanceHarness {
  return {
    name,
    objects,
    async start() {
      const remote = new MemorySystem({ objects: system });
      const connector = wrap(new MemoryConnector(remote, { pageSize: PAGE_SIZE }));
      return { connector, remote, instance: remote.instance, close: async () => {} };
    },
  };
}

export const referenceHarness = (): ConformanceHarness =>
  memoryHarness('memory (uuid contacts with etags, numeric leads)', REFERENCE_SYSTEM, REFERENCE_OBJECTS);

/** Read-only fields ignored rather than refused. */
export const ignoringHarness = (): ConformanceHarness =>
  memoryHarness(
    'memory (read-only fields ignored)',
    [memoryPeopleObject('person', { readOnlyWrites: 'ignored', etags: true })],
    [{ ...person('person'), readOnlyWrites: 'ignored', refusedValues: { email: 'not an email' } }],
  );

/** `inner` with some of its calls replaced. `writeMany` is left out unless replaced: it is optional. */
function tampered(inner: MemoryConnector, overrides: Partial<Connector>): Connector {
  return {
    id: inner.id,
    objectTypes: inner.objectTypes,
    check: (signal) => inner.check(signal),
    describe: (objectType, signal) => inner.describe(objectType, signal),
    readChanges: (objectType, cursor, options) => inner.readChanges(objectType, cursor, options),
    get: (objectType, ids, options) => inner.get(objectType, ids, options),
    findByEmail: (objectType, emails, options) => inner.findByEmail(objectType, emails, options),
    write: (objectType, ops, options) => inner.write(objectType, ops, options),
    ...overrides,
  };
}

/** Each record's fields with `change` applied. */
const mapRecords = (records: RemoteRecord[], change: (r: RemoteRecord) => RemoteRecord): RemoteRecord[] =>
  records.map(change);

function withNulls(record: RemoteRecord, fields: readonly string[]): RemoteRecord {
  const filled: FieldValues = {};
  for (const name of fields) filled[name] = record.fields[name] ?? null;
  return { ...record, fields: filled };
}

async function* mapPages(pages: AsyncIterable<ChangePage>, change: (p: ChangePage) => ChangePage) {
  for await (const page of pages) yield change(page);
}

const dropSignal = (options: ReadOptions): ReadOptions => ({ fields: options.fields });

export interface BrokenVariant {
  /** What the variant gets wrong. */
  name: string;
  /** The checks that must fail for it (others may fail too). */
  caughtBy: readonly ConformanceCheckId[];
  break(inner: MemoryConnector): Partial<Connector>;
}

export const BROKEN_VARIANTS: readonly BrokenVariant[] = [
  {
    name: 'lists only its first object type',
    caughtBy: ['connector.identity'],
    break: (inner) => ({ objectTypes: inner.objectTypes.slice(0, 1) }),
  },
  {
    name: 'check() reports no identity',
    caughtBy: ['check'],
    break: (inner) => ({ check: async (signal) => ({ ok: (await inner.check(signal)).ok }) }),
  },
  {
    name: 'writeMany answers its groups in reverse',
    caughtBy: ['writeMany'],
    break: (inner) => ({ writeMany: async (groups, options) => (await inner.writeMany(groups, options)).reverse() }),
  },
  {
    name: 'describe() names another email field',
    caughtBy: ['describe.fields'],
    break: (inner) => ({
      describe: async (objectType, signal) => ({
        ...(await inner.describe(objectType, signal)),
        emailField: 'firstName',
      }),
    }),
  },
  {
    name: 'drops read-only fields silently (documented: refused)',
    caughtBy: ['describe.readOnly'],
    break: (inner) => ({
      write: (objectType, ops, options) => {
        const table = inner.system.table(objectType);
        const writable = (op: WriteOp, name: string) =>
          op.kind === 'create' ? table.field(name)?.creatable : table.field(name)?.updatable;
        const kept = ops.map((op) => ({
          ...op,
          fields: Object.fromEntries(Object.entries(op.fields).filter(([name]) => writable(op, name) !== false)),
        }));
        return inner.write(objectType, kept, options);
      },
    }),
  },
  {
    name: 'yields no page for an empty remote',
    caughtBy: ['readChanges.empty'],
    break: (inner) => ({
      readChanges: async function* (objectType, cursor, options) {
        for await (const page of inner.readChanges(objectType, cursor, options)) {
          if (cursor === null && page.done && page.records.length === 0) return;
          yield page;
        }
      },
    }),
  },
  {
    name: 'hands every record of a page again on the next',
    caughtBy: ['readChanges.paging'],
    break: (inner) => ({
      readChanges: async function* (objectType, cursor, options) {
        let previous: RemoteRecord[] = [];
        for await (const page of inner.readChanges(objectType, cursor, options)) {
          yield { ...page, records: [...previous, ...page.records] };
          previous = page.records;
        }
      },
    }),
  },
  {
    name: 'ignores the cursor (reads everything every time)',
    caughtBy: ['readChanges.resume', 'readChanges.incremental', 'readChanges.idle'],
    break: (inner) => ({ readChanges: (objectType, _cursor, options) => inner.readChanges(objectType, null, options) }),
  },
  {
    name: 'ends a load where it stands, losing the changes made while it paged',
    caughtBy: ['readChanges.resume'],
    break: (inner) => ({
      readChanges: async function* (objectType, cursor, options) {
        for await (const page of inner.readChanges(objectType, cursor, options)) {
          if (page.progress?.phase !== 'incremental' || cursor === null || !cursor.includes('"initial"')) {
            yield page;
            continue;
          }
          // Where a read from the start would end now: past the changes made during this load.
          let now = page.cursor;
          for await (const fresh of inner.readChanges(objectType, null, options)) now = fresh.cursor;
          yield { records: [], deletedIds: [], cursor: now, done: true, progress: page.progress };
          return;
        }
      },
    }),
  },
  {
    name: 'does not report deletes',
    caughtBy: ['readChanges.deletes'],
    break: (inner) => ({
      readChanges: (objectType, cursor, options) =>
        mapPages(inner.readChanges(objectType, cursor, options), (page) => ({ ...page, deletedIds: [] })),
    }),
  },
  {
    name: 'a cursor can be read from once only (a second read starts where the first ended)',
    caughtBy: ['readChanges.replay'],
    break: (inner) => {
      const ended = new Map<string, string>();
      return {
        readChanges: async function* (objectType, cursor, options) {
          const from = cursor === null ? null : (ended.get(cursor) ?? cursor);
          let last = from;
          for await (const page of inner.readChanges(objectType, from, options)) {
            last = page.cursor;
            yield page;
          }
          if (cursor !== null && last !== null) ended.set(cursor, last);
        },
      };
    },
  },
  {
    name: 'answers a missing id as a blank record',
    caughtBy: ['get.missing'],
    break: (inner) => ({
      get: async (objectType, ids, options) => {
        const found = await inner.get(objectType, ids, options);
        const blanks = ids
          .filter((id) => !found.some((r) => r.id === id))
          .map((id) => withNulls({ id, fields: {} }, options.fields));
        return [...found, ...blanks];
      },
    }),
  },
  {
    name: 'answers the first record twice when asked for several',
    caughtBy: ['get.order'],
    break: (inner) => ({
      get: async (objectType, ids, options) => {
        const found = await inner.get(objectType, ids, options);
        return ids.length > 1 ? [...found, ...found.slice(0, 1)] : found;
      },
    }),
  },
  {
    name: 'treats a field it cannot read as blank',
    caughtBy: ['get.fields'],
    break: (inner) => ({
      get: async (objectType, ids, options) =>
        mapRecords(await inner.get(objectType, ids, options), (r) => withNulls(r, options.fields)),
    }),
  },
  {
    name: 'leaves a blank field out instead of null',
    caughtBy: ['get.fields', 'findByEmail.many', 'readChanges.incremental'],
    break: (inner) => {
      const compact = (r: RemoteRecord): RemoteRecord => ({
        ...r,
        fields: Object.fromEntries(Object.entries(r.fields).filter(([, v]) => v !== null)),
      });
      return {
        get: async (objectType, ids, options) => mapRecords(await inner.get(objectType, ids, options), compact),
        findByEmail: async (objectType, emails, options) =>
          mapRecords(await inner.findByEmail(objectType, emails, options), compact),
        readChanges: (objectType, cursor, options) =>
          mapPages(inner.readChanges(objectType, cursor, options), (p) => ({ ...p, records: p.records.map(compact) })),
      };
    },
  },
  {
    name: 'matches emails exactly (no trimming, case-sensitive)',
    caughtBy: ['findByEmail.normalised'],
    break: (inner) => ({
      findByEmail: async (objectType, emails, options) => {
        const emailField = inner.system.table(objectType).description.emailField;
        const found = await inner.findByEmail(objectType, emails, {
          ...options,
          fields: [...options.fields, emailField],
        });
        return found
          .filter((r) => emails.includes(String(r.fields[emailField])))
          .map((r) => ({ ...r, fields: Object.fromEntries(options.fields.map((f) => [f, r.fields[f] ?? null])) }));
      },
    }),
  },
  {
    name: 'answers every record for an email nobody has',
    caughtBy: ['findByEmail.nobody'],
    break: (inner) => ({
      findByEmail: async (objectType, emails, options) => {
        const found = await inner.findByEmail(objectType, emails, options);
        if (found.length > 0) return found;
        const ids = inner.system.records(objectType).map((r) => r.id);
        return inner.get(objectType, ids, options);
      },
    }),
  },
  {
    name: 'looks emails up one at a time, so an email asked twice finds its record twice',
    caughtBy: ['findByEmail.many'],
    break: (inner) => ({
      findByEmail: async (objectType, emails, options) => {
        const found: RemoteRecord[] = [];
        for (const email of emails) found.push(...(await inner.findByEmail(objectType, [email], options)));
        return found;
      },
    }),
  },
  {
    name: 'answers one record per email',
    caughtBy: ['findByEmail.duplicates'],
    break: (inner) => ({
      findByEmail: async (objectType, emails, options) => {
        const emailField = inner.system.table(objectType).description.emailField;
        const seen = new Set<string>();
        return (await inner.findByEmail(objectType, emails, options)).filter((r) => {
          const email = String(inner.system.read(objectType, r.id)?.[emailField]).trim().toLowerCase();
          if (seen.has(email)) return false;
          seen.add(email);
          return true;
        });
      },
    }),
  },
  {
    name: 'refuses empty lists',
    caughtBy: ['lists.empty'],
    break: (inner) => ({
      get: async (objectType, ids, options) => {
        if (ids.length === 0) throw new TandemError('BAD_REQUEST', 'no ids');
        return inner.get(objectType, ids, options);
      },
    }),
  },
  {
    name: "reports a create as 'updated'",
    caughtBy: ['write.create'],
    break: (inner) => ({
      write: async (objectType, ops, options) =>
        (await inner.write(objectType, ops, options)).map((r) =>
          r.status === 'created' ? { ...r, status: 'updated' } : r,
        ),
    }),
  },
  {
    name: 'blanks the writable fields an update leaves out',
    caughtBy: ['write.update'],
    break: (inner) => ({
      write: (objectType, ops, options) => {
        const names = ['title', 'company'];
        const full = ops.map((op) =>
          op.kind === 'update'
            ? { ...op, fields: { ...Object.fromEntries(names.map((n) => [n, null])), ...op.fields } }
            : op,
        );
        return inner.write(objectType, full, options);
      },
    }),
  },
  {
    name: 'answers results in reverse order',
    caughtBy: ['write.order'],
    break: (inner) => ({
      write: async (objectType, ops, options) => (await inner.write(objectType, ops, options)).reverse(),
    }),
  },
  {
    name: 'throws on a rejected record instead of answering a result',
    caughtBy: ['write.rejected'],
    break: (inner) => ({
      write: async (objectType, ops, options) => {
        const results = await inner.write(objectType, ops, options);
        const rejected = results.find((r) => r.status === 'rejected');
        if (rejected) throw new TandemError('REMOTE_REJECTED', `rejected: ${rejected.ref}`);
        return results;
      },
    }),
  },
  {
    name: "reports a missing record as 'failed'",
    caughtBy: ['write.notFound'],
    break: (inner) => ({
      write: async (objectType, ops, options) =>
        (await inner.write(objectType, ops, options)).map((r) =>
          r.status === 'not-found' ? { ...r, status: 'failed', code: 'NOT_FOUND', retryable: false } : r,
        ),
    }),
  },
  {
    name: 'never sends the etag',
    caughtBy: ['write.etag'],
    break: (inner) => ({
      write: (objectType, ops, options) =>
        inner.write(
          objectType,
          ops.map((op) => (op.kind === 'update' ? { kind: op.kind, ref: op.ref, id: op.id, fields: op.fields } : op)),
          options,
        ),
    }),
  },
  {
    name: 'ignores unknown fields',
    caughtBy: ['unknownField.read', 'unknownField.write'],
    break: (inner) => {
      const known = (objectType: string, names: readonly string[]) =>
        names.filter((n) => inner.system.table(objectType).field(n) !== undefined);
      const readable = (objectType: string, options: ReadOptions): ReadOptions => ({
        ...options,
        fields: known(objectType, options.fields),
      });
      return {
        get: (t, ids, options) => inner.get(t, ids, readable(t, options)),
        findByEmail: (t, emails, options) => inner.findByEmail(t, emails, readable(t, options)),
        readChanges: (t, cursor, options) => inner.readChanges(t, cursor, readable(t, options)),
        write: (t, ops, options) =>
          inner.write(
            t,
            ops.map((op) => ({
              ...op,
              fields: Object.fromEntries(Object.entries(op.fields).filter(([n]) => known(t, [n]).length)),
            })),
            options,
          ),
      };
    },
  },
  {
    name: 'ignores its abort signal',
    caughtBy: ['abort.before', 'abort.during'],
    break: (inner) => ({
      check: () => inner.check(),
      describe: (objectType) => inner.describe(objectType),
      readChanges: (t, cursor, options) => inner.readChanges(t, cursor, dropSignal(options)),
      get: (t, ids, options) => inner.get(t, ids, dropSignal(options)),
      findByEmail: (t, emails, options) => inner.findByEmail(t, emails, dropSignal(options)),
      write: (t, ops) => inner.write(t, ops),
    }),
  },
  {
    name: 'checks its signal only before it starts',
    caughtBy: ['abort.during'],
    break: (inner) => {
      const before = (options: ReadOptions): ReadOptions => {
        options.signal?.throwIfAborted();
        return dropSignal(options);
      };
      return {
        get: async (t, ids, options) => inner.get(t, ids, before(options)),
        findByEmail: async (t, emails, options) => inner.findByEmail(t, emails, before(options)),
        write: async (t, ops, options) => {
          options?.signal?.throwIfAborted();
          return inner.write(t, ops);
        },
        readChanges: async function* (t, cursor, options) {
          yield* inner.readChanges(t, cursor, before(options));
        },
      };
    },
  },
];

/** The harness of a broken variant: the reference objects, the connector broken as it says. */
export function brokenHarness(variant: BrokenVariant): ConformanceHarness {
  return memoryHarness(`broken: ${variant.name}`, REFERENCE_SYSTEM, REFERENCE_OBJECTS, (inner) =>
    tampered(inner, variant.break(inner)),
  );
}

export function variantNamed(name: string): BrokenVariant {
  const variant = BROKEN_VARIANTS.find((v) => v.name === name);
  if (!variant) throw new Error(`no broken variant '${name}'`);
  return variant;
}
