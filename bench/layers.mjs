/**
 * Where a person's CPU goes, layer by layer (`npm run bench:layers`): each connector call and each MongoDB
 * store call the engine makes per person, run on its own over P records (3,000 by default: one write set)
 * against the sandboxes (separate processes, as in `run.mjs`) and MongoDB, warm (after a first round that
 * compiles the code), and divided by P. The bench's cpuMicrosPerPerson is about these costs added up as a
 * person needs them, plus the engine's own work between them.
 *
 * Both CPU figures are this process's: all threads (JIT and GC included) and the main thread alone. Waiting
 * on an O(n) jongodb costs some CPU a second (see README, "Performance"), counted as it is in the bench.
 * `LAYERS_PEOPLE=P`, `LAYERS_ROUNDS=R` (6; round 1 warms up, of rounds 2…R the one using the least CPU is printed,
 * as the bench keeps its least-CPU run: on a shared machine noise only adds), `LAYERS_ONLY=regex` (layers
 * whose name matches; a write or look-up needs its system's read to run too).
 */
import 'reflect-metadata';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { mainThreadCpuMicros, root, startSandbox } from './processes.mjs';

const require = createRequire(join(root, 'package.json'));
const P = Number(process.env.LAYERS_PEOPLE ?? 3000);
const ROUNDS = Math.max(2, Number(process.env.LAYERS_ROUNDS ?? 6));
const ONLY = process.env.LAYERS_ONLY ? new RegExp(process.env.LAYERS_ONLY, 'i') : undefined;

/** Resolves a connector the way the host does: a child container holding Logger, Config and Metrics. */
function connector(definition, config) {
  const { container } = require('tsyringe');
  const { PluginTokens } = require('@tandem/core/plugin');
  const { Registry } = require('prom-client');
  const child = container.createChildContainer();
  child.register(PluginTokens.Logger, { useValue: require('pino')({ level: 'silent' }) });
  child.register(PluginTokens.Config, { useValue: config });
  child.register(PluginTokens.Metrics, { useValue: new Registry() });
  definition.register(child);
  return child.resolve(PluginTokens.Connector);
}

const rows = [];

/**
 * Runs `work(round, input)` ROUNDS times, `input` being what `prepare(round)` built beforehand (untimed: the
 * records the engine would hand over); keeps the warm round that used the least CPU.
 */
async function layer(name, work, prepare = () => undefined) {
  if (ONLY && !ONLY.test(name)) return;
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const input = await prepare(round);
    const cpu0 = process.cpuUsage();
    const main0 = mainThreadCpuMicros() ?? Number.NaN;
    const t0 = performance.now();
    const records = await work(round, input);
    const cpu = process.cpuUsage(cpu0);
    if (records === 0) {
      process.stderr.write(`${name}: no records to measure (is the layer it takes them from left out?)\n`);
      return;
    }
    if (round === 0) continue;
    rounds.push({
      allThreads: (cpu.user + cpu.system) / records,
      mainThread: ((mainThreadCpuMicros() ?? Number.NaN) - main0) / records,
      wallMicros: ((performance.now() - t0) * 1000) / records,
    });
  }
  const row = { layer: name, ...rounds.reduce((a, b) => (b.allThreads < a.allThreads ? b : a)) };
  rows.push(row);
  process.stderr.write(`${name}: ${row.allThreads.toFixed(1)} µs per record\n`);
}

/**
 * One connector's layers: the initial read of every record (noting their emails into `emails` when it is
 * empty), the look-up of `emails`, and an update of `titleField` on every record read.
 */
async function connectorLayers(system, connector, objectType, fields, titleField, emails) {
  const ids = [];
  const noteEmails = emails.length === 0;
  await layer(`${system}: read (initial)`, async () => {
    ids.length = 0;
    if (noteEmails) emails.length = 0;
    for await (const page of connector.readChanges(objectType, null, { fields })) {
      for (const r of page.records) {
        ids.push(r.id);
        if (noteEmails) emails.push(String(r.fields.email));
      }
    }
    return ids.length;
  });
  await layer(
    `${system}: find by email`,
    async () => (await connector.findByEmail(objectType, emails, { fields })).length,
  );
  await layer(
    `${system}: write (update)`,
    async (_round, ops) => (await connector.write(objectType, ops)).length,
    (round) => ids.map((id, i) => ({ kind: 'update', ref: `r${i}`, id, fields: { [titleField]: `Title ${round}` } })),
  );
}

const { DEFAULT_MAPPINGS } = require(join(root, 'core/dist/src/sync/mappings.js'));
const contactMapping = DEFAULT_MAPPINGS.objects.find((o) => o.dynamics === 'contact');
const marketoFields = ['email', ...contactMapping.fields.map((f) => f.marketo).filter((f) => f !== 'email')];
const contactFields = contactMapping.fields.map((f) => f.dynamics);

const [marketoSandbox, dataverseSandbox] = await Promise.all([
  startSandbox('connectors/marketo/sandbox/dist/src/cli.js', ['--extras', '--people', String(P)]),
  startSandbox('connectors/dynamics/sandbox/dist/src/cli.js', ['--contacts', String(P), '--contacts-from', '0']),
]);
const undici = require('undici');
await undici.request(`${marketoSandbox.info.url}/__sandbox/faults`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ throttle: false }),
});
const marketoDefinition = require('@tandem/connector-marketo').default;
const marketo = connector(
  marketoDefinition,
  require('@tandem/core').sandboxConnectorConfig(marketoDefinition, marketoSandbox.info),
);
const dynamicsDefinition = require('@tandem/connector-dynamics').default;
const dynamics = connector(
  dynamicsDefinition,
  require('@tandem/core').sandboxConnectorConfig(dynamicsDefinition, dataverseSandbox.info),
);
const { startTestMongo } = require('@tandem/core/testing');
const externalUri = process.env.MONGODB_URI;
const mongo = externalUri ? undefined : await startTestMongo();
const { MongoClient } = require('mongodb');
const client = new MongoClient(externalUri ?? mongo.uri);
await client.connect();
const { SyncStore } = require(join(root, 'core/dist/src/repositories/sync-store.js'));

try {
  // Marketo's people are read first: their emails are what both look-ups by email ask for.
  const emails = [];
  await connectorLayers('Marketo', marketo, 'lead', marketoFields, 'title', emails);
  await connectorLayers('Dataverse', dynamics, 'contact', contactFields, 'jobtitle', emails);

  const guid = (i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  const link = (round, i) => ({
    _id: `${round}-${i}`,
    pipelineId: 'default',
    dynamicsType: 'contact',
    email: `person${i}@example.com`,
    state: 'linked',
    snapshot: Object.fromEntries(marketoFields.map((f) => [f, f === 'email' ? `person${i}@example.com` : `${f} ${i}`])),
    marketoId: String(1_000_000 + i),
    dynamicsId: guid(i),
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  // A fresh database per round: jongodb is O(n) per operation, and each round would otherwise see more.
  const stores = [];
  const storeFor = async (round) => {
    if (!stores[round]) {
      stores[round] = new SyncStore(client.db(`layers_${process.pid}_${round}`));
      await stores[round].ensureIndexes();
    }
    return stores[round];
  };
  const linksOf = [];
  await layer(
    'MongoDB: insert new links',
    async (round, links) => {
      await stores[round].insertLinksExceptTaken(links);
      return P;
    },
    async (round) => {
      await storeFor(round);
      linksOf[round] = Array.from({ length: P }, (_, i) => link(round, i));
      return linksOf[round];
    },
  );
  await layer(
    'MongoDB: rewrite changed links',
    async (round, links) => {
      await stores[round].rewriteLinks('default', links);
      return links.length;
    },
    async (round) => {
      await storeFor(round);
      const changed = (l) => ({ ...l, snapshot: { ...l.snapshot, title: 'Changed' } });
      return (linksOf[round] ?? []).map(changed);
    },
  );
  await layer(
    'MongoDB: read links by id',
    async (round, ids) => (await stores[round].linksByMarketoIds('default', ids)).length,
    async (round) => {
      await storeFor(round);
      return (linksOf[round] ?? []).map((l) => l.marketoId);
    },
  );
  await layer(
    'MongoDB: append activity',
    async (round, entries) => {
      await stores[round].appendActivity(entries);
      return P;
    },
    async (round) => {
      await storeFor(round);
      return Array.from({ length: P }, (_, i) => ({
        pipelineId: 'default',
        at: new Date(),
        type: 'updated',
        runId: 'run',
        marketoId: String(1_000_000 + i),
        dynamicsId: guid(i),
        dynamicsType: 'contact',
        detail: 'Updated Dynamics contact: jobtitle',
      }));
    },
  );
  // jongodb is in memory and stops below; a real MongoDB keeps what it is given.
  if (externalUri) {
    for (let round = 0; round < ROUNDS; round++) await client.db(`layers_${process.pid}_${round}`).dropDatabase();
  }
} finally {
  await Promise.all([marketo.close?.(), dynamics.close?.()]);
  await client.close();
  await mongo?.stop();
  await Promise.all([marketoSandbox.stop(), dataverseSandbox.stop()]);
}

const pad = (s, n) => String(s).padEnd(n);
const num = (x) => x.toFixed(1).padStart(10);
console.log(
  `\nPer record, ${P} records per call, the warm round of ${ROUNDS - 1} using the least CPU (µs in this process)\n`,
);
console.log(`${pad('layer', 34)}${'all threads'.padStart(12)}${'main thread'.padStart(12)}${'wall'.padStart(10)}`);
for (const r of rows) console.log(`${pad(r.layer, 34)}${num(r.allThreads)}  ${num(r.mainThread)}${num(r.wallMicros)}`);
