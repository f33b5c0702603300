/**
 * The connector conformance suite, run against the connector and a vanilla Marketo sandbox. Changes "out of
 * band" go through the sandbox's store (a marketer's edit in the UI, logged as Marketo logs it), never through
 * the connector.
 */
import 'reflect-metadata';
import { connectorConformanceSuite, type RemoteControl } from '@tandem/core/testing';
import type { FieldValues } from '@tandem/core/plugin';
import type { MarketoSandbox } from '@tandem/sandbox-marketo';
import { startHarness } from './helpers';

/** The connector reads 300 leads a call (Get Leads' largest batch), in id ranges of 300 during the initial load. */
const PAGE_SIZE = 300;

function assertLead(objectType: string): void {
  if (objectType !== 'lead') throw new Error(`no such object type in the sandbox: ${objectType}`);
}

function leadId(objectType: string, id: string): number {
  assertLead(objectType);
  return Number(id);
}

function remoteOf(sandbox: MarketoSandbox): RemoteControl {
  return {
    create: (type, fields) => {
      assertLead(type);
      return String(sandbox.createPerson(fields).id);
    },
    update: (type, id, fields) => void sandbox.editPerson(leadId(type, id), fields),
    delete: (type, id) => void sandbox.deletePerson(leadId(type, id)),
    read: (type, id) => {
      const person = sandbox.getPerson(leadId(type, id));
      return person ? ({ ...person.values } as FieldValues) : undefined;
    },
  };
}

connectorConformanceSuite({
  name: '@tandem/connector-marketo',
  objects: [
    {
      objectType: 'lead',
      emailField: 'email',
      writableStrings: ['title', 'city'],
      readableField: 'firstName',
      // An integer field given text: 1001 "Invalid value … Required of type 'integer'" (error-codes.md).
      refusedValues: { leadScore: 'not a number' },
      pageSize: PAGE_SIZE,
      // Sync Leads writes the record and leaves a field that is not updateable as it was; the connector passes
      // Marketo's result on.
      readOnlyWrites: 'ignored',
      feed: {
        repeats:
          "a paging token starts at a whole second (sinceDatetime), so a lead created in the initial load's first second is read by the id scan and again as a New Lead through leadchanges: read twice rather than risk missing it",
      },
    },
  ],
  async start() {
    // The suite makes a few hundred calls; Marketo's 100 calls per 20 s (the sandbox's, and the connector's own
    // pacing) is not what it checks.
    const lifted = { callsPerWindow: 100_000, dailyQuota: 10_000_000 };
    const h = await startHarness({ limits: lifted }, { limits: lifted });
    return {
      connector: h.connector,
      remote: remoteOf(h.sandbox),
      instance: h.running.instanceId,
      close: () => h.close(),
    };
  },
  skip: {
    'write.etag':
      'Marketo has no optimistic concurrency: Sync Leads takes no version or etag (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads)',
  },
});
