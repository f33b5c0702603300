/**
 * Presets: the pipelines Tandem defines by itself, and the one place in core that names systems. The `default`
 * pipeline (Marketo persons with Dynamics contacts and leads, as CONTRACT.md defines it) exists whenever both
 * connections do; in sandbox mode a `marketo-salesforce` pipeline joins it when the Salesforce connector is
 * installed. Everything else about a pipeline is generic: these are only their definitions.
 *
 * Also here: the migration of documents written by Tandem's first version, whose links named Marketo and
 * Dynamics in their field names.
 */
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { NewPipeline } from '../repositories/pipelines';
import type { FieldMapping, Mappings } from '../sync/mappings';

export const DEFAULT_PIPELINE_ID = 'default';

const MARKETO = 'marketo';
const DYNAMICS = 'dynamics';
const SALESFORCE = 'salesforce';

/** The standard fields of a vanilla Marketo instance and a vanilla Dataverse org (both systems' references). */
const MARKETO_DYNAMICS_FIELDS: Array<[string, string]> = [
  ['email', 'emailaddress1'],
  ['firstName', 'firstname'],
  ['lastName', 'lastname'],
  ['title', 'jobtitle'],
  ['phone', 'telephone1'],
  ['mobilePhone', 'mobilephone'],
  ['address', 'address1_line1'],
  ['city', 'address1_city'],
  ['state', 'address1_stateorprovince'],
  ['country', 'address1_country'],
  ['postalCode', 'address1_postalcode'],
  ['unsubscribed', 'donotbulkemail'],
  ['doNotCall', 'donotphone'],
];

function fields(a: string, b: string, pairs: Array<[string, string]>): FieldMapping[] {
  return pairs.map(([x, y]) => ({ [a]: x, [b]: y, direction: 'both' }));
}

/**
 * What Marketo's own Dynamics sync adds (its solution's `mkt_leadscore` column, the "Microsoft Type" and
 * "Microsoft is Deleted" person fields): none of it is in a vanilla org, so each joins only where both systems
 * describe it.
 */
const DYNAMICS_SYNC_FLAGS = {
  deletedFlagField: { field: 'microsoftIsDeleted', optional: true },
  typeField: { field: 'microsoftType', optional: true },
};

/** Marketo's default Dynamics field mapping: standard fields, plus the optional extras. */
export const DEFAULT_MAPPINGS: Mappings = {
  objects: [
    {
      [MARKETO]: 'lead',
      [DYNAMICS]: 'contact',
      fields: [
        ...fields(MARKETO, DYNAMICS, MARKETO_DYNAMICS_FIELDS),
        { [MARKETO]: 'leadScore', [DYNAMICS]: 'mkt_leadscore', direction: 'both', optional: true },
      ],
      ...DYNAMICS_SYNC_FLAGS,
    },
    {
      [MARKETO]: 'lead',
      [DYNAMICS]: 'lead',
      fields: [
        ...fields(MARKETO, DYNAMICS, MARKETO_DYNAMICS_FIELDS),
        { [MARKETO]: 'company', [DYNAMICS]: 'companyname', direction: 'both' },
      ],
      ...DYNAMICS_SYNC_FLAGS,
    },
  ],
};

/**
 * The `default` pipeline: Marketo persons (`lead`) with Dynamics contacts and leads, matched contact before
 * lead; a new Marketo person becomes a Dynamics lead. A Dynamics delete keeps the Marketo person (flagged) and
 * is never undone by the sync; a person deleted in Marketo comes back as a new one at its next Dynamics change.
 */
export function defaultPipeline(intervalMinutes: number): NewPipeline {
  return {
    id: DEFAULT_PIPELINE_ID,
    name: 'Marketo persons with Dynamics contacts and leads',
    sides: {
      [MARKETO]: { objects: ['lead'], deletes: 'recreate' },
      [DYNAMICS]: { objects: ['contact', 'lead'], newRecordsAs: 'lead', deletes: 'unlink' },
    },
    order: [MARKETO, DYNAMICS],
    mappings: DEFAULT_MAPPINGS,
    schedule: { intervalMinutes },
    paused: false,
    legacyFormat: true,
  };
}

const MARKETO_SALESFORCE_COMMON: Array<[string, string]> = [
  ['email', 'Email'],
  ['firstName', 'FirstName'],
  ['lastName', 'LastName'],
  ['title', 'Title'],
  ['phone', 'Phone'],
  ['mobilePhone', 'MobilePhone'],
  ['unsubscribed', 'HasOptedOutOfEmail'],
  ['doNotCall', 'DoNotCall'],
];

/** Marketo persons with Salesforce Contacts and Leads, on the standard fields of both. */
export const MARKETO_SALESFORCE_MAPPINGS: Mappings = {
  objects: [
    {
      [MARKETO]: 'lead',
      [SALESFORCE]: 'Contact',
      fields: fields(MARKETO, SALESFORCE, [
        ...MARKETO_SALESFORCE_COMMON,
        ['address', 'MailingStreet'],
        ['city', 'MailingCity'],
        ['state', 'MailingState'],
        ['country', 'MailingCountry'],
        ['postalCode', 'MailingPostalCode'],
      ]),
    },
    {
      [MARKETO]: 'lead',
      [SALESFORCE]: 'Lead',
      fields: fields(MARKETO, SALESFORCE, [
        ...MARKETO_SALESFORCE_COMMON,
        ['address', 'Street'],
        ['city', 'City'],
        ['state', 'State'],
        ['country', 'Country'],
        ['postalCode', 'PostalCode'],
        ['company', 'Company'],
      ]),
    },
  ],
};

/** Sandbox mode's second pipeline: Marketo persons with Salesforce Contacts and Leads (new persons as Leads). */
export function marketoSalesforcePipeline(intervalMinutes: number): NewPipeline {
  return {
    id: 'marketo-salesforce',
    name: 'Marketo persons with Salesforce Contacts and Leads',
    sides: {
      [MARKETO]: { objects: ['lead'], deletes: 'recreate' },
      [SALESFORCE]: { objects: ['Contact', 'Lead'], newRecordsAs: 'Lead', deletes: 'unlink' },
    },
    order: [MARKETO, SALESFORCE],
    mappings: MARKETO_SALESFORCE_MAPPINGS,
    schedule: { intervalMinutes },
    paused: false,
  };
}

/** The presets whose connections exist (`sandbox`: also those sandbox mode adds). */
export function presetPipelines(
  connections: ReadonlySet<string>,
  intervalMinutes: number,
  sandbox: boolean,
): NewPipeline[] {
  const presets: NewPipeline[] = [];
  if (connections.has(MARKETO) && connections.has(DYNAMICS)) presets.push(defaultPipeline(intervalMinutes));
  if (sandbox && connections.has(MARKETO) && connections.has(SALESFORCE))
    presets.push(marketoSalesforcePipeline(intervalMinutes));
  return presets;
}

/**
 * Rewrites links and activity entries of Tandem's first version (`marketoId`, `dynamicsId`, `dynamicsType`;
 * sides named `marketo`/`dynamics`) into the current shape (`left`/`right` in the default pipeline's order).
 * Whole documents in batches (delete, then insert), a constant number of statements per batch; idempotent, and
 * a crash half-way leaves nothing half-written (the batch not yet deleted is converted again).
 */
export async function migrateFirstVersion(db: Db, logger: Logger): Promise<void> {
  const side = (s: unknown) => (s === MARKETO ? 'left' : 'right');
  type Doc = Record<string, unknown> & { _id: string };
  const convert = (doc: Record<string, unknown>): Record<string, unknown> => {
    const { marketoId, dynamicsId, dynamicsType, createIntent, rejection, ...rest } = doc as Record<string, unknown> & {
      createIntent?: Record<string, unknown>;
      rejection?: Record<string, unknown>;
    };
    return {
      ...rest,
      ...(typeof marketoId === 'string' || dynamicsType !== undefined
        ? { left: { type: 'lead', ...(typeof marketoId === 'string' ? { id: marketoId } : {}) } }
        : {}),
      ...(typeof dynamicsType === 'string'
        ? { right: { type: dynamicsType, ...(typeof dynamicsId === 'string' ? { id: dynamicsId } : {}) } }
        : {}),
      ...(createIntent ? { createIntent: { ...createIntent, side: side(createIntent['side']) } } : {}),
      ...(rejection ? { rejection: { ...rejection, side: side(rejection['side']) } } : {}),
    };
  };
  const legacy: Record<string, { filter: Record<string, unknown>; convert: (doc: Doc) => Doc }> = {
    links: { filter: { left: { $exists: false } }, convert: (d) => convert(d) as Doc },
    activity: {
      filter: {
        left: { $exists: false },
        right: { $exists: false },
        $or: [{ marketoId: { $exists: true } }, { dynamicsType: { $exists: true } }],
      },
      convert: (d) => convert(d) as Doc,
    },
    link_journal: {
      filter: { 'links.dynamicsType': { $exists: true } },
      convert: (d) => ({ ...d, links: (d['links'] as Array<Record<string, unknown>>).map(convert) }),
    },
  };
  // Each batch goes through a journal (converted documents first, then delete and insert, then the entry is
  // dropped), so a crash anywhere is finished at the next start.
  const journal = db.collection<{ _id: string; collection: string; docs: Doc[] }>('migration_journal');
  const apply = async (entry: { _id: string; collection: string; docs: Doc[] }) => {
    const collection = db.collection<Doc>(entry.collection);
    await collection.deleteMany({ _id: { $in: entry.docs.map((d) => d._id) } });
    await collection.insertMany(entry.docs);
    await journal.deleteOne({ _id: entry._id });
  };
  for (const entry of await journal.find({}).toArray()) await apply(entry);
  let migrated = 0;
  for (const [name, { filter, convert: rewrite }] of Object.entries(legacy)) {
    for (;;) {
      const docs = await db.collection<Doc>(name).find(filter).limit(500).toArray();
      if (docs.length === 0) break;
      const entry = { _id: `${name}:${docs[0]?._id ?? ''}`, collection: name, docs: docs.map(rewrite) };
      await journal.insertOne(entry);
      await apply(entry);
      migrated += docs.length;
    }
  }
  // Dropped where the engine can (jongodb cannot: its partial indexes on fields no document has any more then
  // index nothing).
  for (const [collection, index] of [
    ['links', 'marketo_link'],
    ['links', 'dynamics_link'],
    ['activity', 'activity_marketo'],
    ['activity', 'activity_dynamics'],
  ] as const) {
    await db
      .collection(collection)
      .dropIndex(index)
      .catch(() => undefined);
  }
  if (migrated > 0)
    logger.info({ documents: migrated }, "converted the first version's links and activity to the current shape");
}
