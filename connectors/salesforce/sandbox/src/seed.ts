/**
 * Sample people as Salesforce records. Like the Dynamics sandbox, the org holds sample people 200..279 as
 * Contacts and 280..339 as Leads, so 200..299 also exist in the Marketo sandbox (matched by email) and each side
 * has people of its own.
 */
import type { SamplePerson } from '@tandem/core/testing';
import type { DataObjectName } from './schema';

export const SALESFORCE_SEED = {
  contacts: { from: 200, count: 80 },
  leads: { from: 280, count: 60 },
} as const;

/** A sample person's Salesforce fields, as a Contact or a Lead (seeding, the CLI, tests). */
export function sampleFields(p: SamplePerson, object: DataObjectName): Record<string, string> {
  const common = { FirstName: p.firstName, LastName: p.lastName, Email: p.email, Title: p.title, Phone: p.phone };
  if (object === 'Contact') return { ...common, MailingCity: p.city, MailingCountry: p.country };
  return { ...common, Company: p.company, City: p.city, Country: p.country };
}
