/**
 * The floor of Tandem's per-person CPU: what parsing and encoding one person's data costs on this machine,
 * without any of the machinery around it (`node bench/data-floor.mjs`). Compare with the bench's
 * marginalCpuMicrosPerPerson: the gap is the engine's, the HTTP client's and the MongoDB driver's own work and
 * the garbage they leave.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json'));
const { BSON } = require('mongodb');
const N = 20_000;
const guid = (i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const values = (i) => ({
  email: `person${i}@example.com`,
  firstName: `First${i}`,
  lastName: `Last${i}`,
  title: 'Engineer',
  phone: '+1 555 0100',
  mobilePhone: null,
  address: null,
  city: 'Springfield',
  state: null,
  country: 'US',
  postalCode: null,
  unsubscribed: false,
  doNotCall: false,
  leadScore: 42,
});
const marketoBody = JSON.stringify({
  requestId: 'r',
  success: true,
  result: Array.from({ length: N }, (_, i) => ({ id: 1000 + i, ...values(i), updatedAt: '2026-11-25T02:30:00Z' })),
});
const dataverseBody = JSON.stringify({
  value: Array.from({ length: N }, (_, i) => {
    const v = values(i);
    return {
      '@odata.etag': 'W/"123456"',
      contactid: guid(i),
      emailaddress1: v.email,
      firstname: v.firstName,
      lastname: v.lastName,
      jobtitle: v.title,
      telephone1: v.phone,
      mobilephone: null,
      address1_line1: null,
      address1_city: v.city,
      address1_stateorprovince: null,
      address1_country: v.country,
      address1_postalcode: null,
      donotbulkemail: false,
      donotphone: false,
      mkt_leadscore: v.leadScore,
      modifiedon: '2026-11-25T02:30:00Z',
    };
  }),
});
const links = Array.from({ length: N }, (_, i) => ({
  _id: guid(i),
  pipelineId: 'default',
  marketoId: String(1000 + i),
  dynamicsId: guid(i),
  dynamicsType: 'contact',
  email: `person${i}@example.com`,
  state: 'linked',
  snapshot: values(i),
  createdAt: new Date(),
  updatedAt: new Date(),
}));
const encoded = links.map((l) => BSON.serialize(l));

/** CPU µs per record of `work` over N records, after one warm-up pass. */
function perRecord(work) {
  work();
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return Math.round(((used.user + used.system) / N) * 100) / 100;
}

const rows = [
  ['JSON.parse, one Marketo person', perRecord(() => JSON.parse(marketoBody))],
  ['JSON.parse, one Dataverse contact', perRecord(() => JSON.parse(dataverseBody))],
  ['JSON.stringify, one write', perRecord(() => JSON.stringify(links.map((l) => l.snapshot)))],
  ['BSON serialize, one link', perRecord(() => links.forEach((l) => BSON.serialize(l)))],
  ['BSON deserialize, one link', perRecord(() => encoded.forEach((b) => BSON.deserialize(b)))],
];
for (const [label, micros] of rows) console.log(`${label.padEnd(36)} ${String(micros).padStart(6)} µs`);
console.log(`(link document: ${encoded[0].length} bytes of BSON)`);
