/**
 * The connector conformance suite, run against the connector and the Salesforce sandbox. Changes "out of band" go
 * through the sandbox's control methods (a person's edit in the org), never through the connector.
 */
import 'reflect-metadata';
import { connectorConformanceSuite, type ConformanceObject, type RemoteControl } from '@tandem/core/testing';
import type { FieldValues } from '@tandem/core/plugin';
import { startHarness } from './helpers';

const PAGE_SIZE = 5;

/** The values a vanilla org refuses on create and on update: an email that is not one (INVALID_EMAIL_ADDRESS). */
const refusedValues: FieldValues = { Email: 'not an email address' };

const objects: ConformanceObject[] = [
  {
    objectType: 'Contact',
    emailField: 'Email',
    writableStrings: ['Title', 'Department'],
    readableField: 'LastName',
    createWith: { LastName: 'Conformance' },
    refusedValues,
    pageSize: PAGE_SIZE,
    // Salesforce refuses the record: INVALID_FIELD_FOR_INSERT_UPDATE.
    readOnlyWrites: 'rejected',
  },
  {
    objectType: 'Lead',
    emailField: 'Email',
    writableStrings: ['Title', 'City'],
    readableField: 'LastName',
    createWith: { LastName: 'Conformance', Company: 'Conformance Inc' },
    refusedValues,
    pageSize: PAGE_SIZE,
    readOnlyWrites: 'rejected',
  },
];

function dataObject(objectType: string): 'Contact' | 'Lead' {
  if (objectType === 'Contact' || objectType === 'Lead') return objectType;
  throw new Error(`no such object type in the sandbox: ${objectType}`);
}

connectorConformanceSuite({
  name: '@tandem/connector-salesforce',
  objects,
  async start() {
    const h = await startHarness({ seed: false });
    const connector = h.connector({ pageSize: PAGE_SIZE });
    const { sandbox } = h;
    const remote: RemoteControl = {
      create: (type, fields) => sandbox.createRecord(dataObject(type), fields).id,
      update: (type, id, fields) => void sandbox.editRecord(dataObject(type), id, fields),
      delete: (type, id) => sandbox.deleteRecord(dataObject(type), id),
      read: (type, id) => {
        const record = sandbox.getRecord(dataObject(type), id);
        if (!record || record.values.IsDeleted === true) return undefined;
        const values: FieldValues = {};
        for (const [name, value] of Object.entries(record.values)) {
          if (value === null || ['string', 'number', 'boolean'].includes(typeof value))
            values[name] = value as FieldValues[string];
        }
        return values;
      },
    };
    return { connector, remote, instance: h.running.instanceId, close: () => h.close() };
  },
  skip: {
    'write.etag':
      'Salesforce has no optimistic concurrency for sObject Collections: ETags and If-Match serve only single Account records (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest_conditional_requests.htm)',
  },
});
