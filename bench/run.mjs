/**
 * Tandem benchmarks: `npm run bench` (builds, then runs this file).
 *
 * Each scenario runs in a child process of its own (this file with `--scenario N`, `--throughput`) so that its
 * CPU time and peak RSS are Tandem's alone: both sandboxes run as separate processes (their CLIs), and so does
 * MongoDB (jongodb, or `MONGODB_URI`). The parent prints a table and writes `bench/results.json`.
 * See README.md, "Performance", for what each figure means.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mainThreadCpuMicros, root, startHelper, startSandbox } from './processes.mjs';

const require = createRequire(join(root, 'package.json'));
const TOKEN = 'bench-admin-token-0123456789';
const PIPELINE = 'default';
/** Marketo's real limits, which the throttled scenario enforces. */
const LIMIT = { calls: 100, windowMs: 20_000, concurrent: 10 };
const THROTTLED_SECONDS = Number(process.env.BENCH_THROTTLED_SECONDS ?? 60);
const PUSHES = 30;

// ---- helpers shared by the child processes ------------------------------------------------------------

const undici = require('undici');
/** Trusts the Dataverse sandbox's self-signed certificate (set once it has started). */
let dispatcher;

async function http(method, url, body) {
  const response = await undici.fetch(url, {
    method,
    ...(dispatcher ? { dispatcher } : {}),
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Runs `fn` over `items` with `concurrency` workers. */
async function pool(items, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/**
 * Counts MongoDB commands on the wire (bench/mongo-counter.mjs, a process of its own) when the URI names one
 * plain host; else falls back to the driver's command monitoring, which costs Tandem some CPU (see that file).
 */
async function startMongoCounter(uri) {
  const m = /^mongodb:\/\/(?:([^@/]*)@)?([^/?,@]+)(\/[^?]*)?(?:\?(.*))?$/.exec(uri);
  if (!m || /(^|&)(tls|ssl)=true/i.test(m[4] ?? '')) return undefined;
  const counter = await startHelper('bench/mongo-counter.mjs', [m[2]]);
  const query = ['directConnection=true', ...(m[4] ? [m[4]] : [])].join('&');
  return {
    uri: `mongodb://${m[1] ? `${m[1]}@` : ''}${counter.info.address}${m[3] ?? '/'}?${query}`,
    counts: async () => (await undici.fetch(counter.info.countsUrl)).json(),
    stop: counter.stop,
  };
}

/** Both sandboxes (separate processes), MongoDB and one Tandem instance in this process. */
async function startWorld({ marketoPeople, contacts, leads }) {
  const { startTandem, sandboxConnectorConfig } = require('@tandem/core');
  const { startTestMongo } = require('@tandem/core/testing');
  const pino = require('pino');
  const [marketo, dynamics] = await Promise.all([
    // --extras: the Dynamics sync's person fields, which the default pipeline's type flag writes (as before the
    // sandbox became vanilla by default), so the figures stay comparable.
    startSandbox('connectors/marketo/sandbox/dist/src/cli.js', ['--extras', '--people', String(marketoPeople)]),
    startSandbox('connectors/dynamics/sandbox/dist/src/cli.js', [
      ...['--contacts', String(contacts.count), '--contacts-from', String(contacts.from)],
      ...['--leads', String(leads.count), '--leads-from', String(leads.from)],
      // Dynamics lacks the job titles Marketo knows: the initial sync fills them in (writes to both sides).
      ...['--blank', 'jobtitle'],
    ]),
  ]);
  dispatcher = new undici.Agent({ connect: { ca: dynamics.info.caPem } });
  const externalUri = process.env.MONGODB_URI;
  const mongo = externalUri ? undefined : await startTestMongo();
  // Its client is of no use here, and an open client wakes this process ten times a second (the driver's pool
  // upkeep), CPU the bench would charge to Tandem, which has a client of its own.
  await mongo?.client.close();
  const counter = await startMongoCounter(externalUri ?? mongo.uri);
  const dbName = `bench_${process.pid}_${Date.now()}`;
  const monitored = { count: 0 };
  const tandem = await startTandem({
    env: { TANDEM_API_TOKEN: TOKEN, LOG_LEVEL: 'silent' },
    pluginConfig: {
      // The sandbox prints the running sandbox (its environment, as an operator would set it for a real instance).
      marketo: sandboxConnectorConfig(require('@tandem/connector-marketo').default, marketo.info),
      dynamics: sandboxConnectorConfig(require('@tandem/connector-dynamics').default, dynamics.info),
    },
    mongoUri: counter?.uri ?? externalUri ?? mongo.uri,
    dbName,
    port: 0,
    logger: pino({ level: 'silent' }),
    schedule: false,
    ...(counter
      ? {}
      : {
          onMongoCommand: () => {
            monitored.count += 1;
          },
        }),
  });
  const mUrl = `${marketo.info.url}/__sandbox`;
  const dUrl = `${dynamics.info.url}/__sandbox`;
  return {
    tandem,
    mongoCommandsCountedBy: counter ? 'wire (bench/mongo-counter.mjs)' : 'driver command monitoring',
    /** `{ commands }`, plus bytes and per-collection detail when counted on the wire. */
    mongoCounts: counter ? counter.counts : async () => ({ commands: monitored.count }),
    marketo: {
      url: mUrl,
      counters: async () => (await http('GET', `${mUrl}/counters`)).body,
      reset: () => http('POST', `${mUrl}/counters/reset`),
      persons: async () => (await http('GET', `${mUrl}/persons`)).body,
      edit: (id, fields) => http('PATCH', `${mUrl}/persons/${id}`, fields),
      faults: (faults) => http('POST', `${mUrl}/faults`, faults),
    },
    dynamics: {
      url: dUrl,
      counters: async () => (await http('GET', `${dUrl}/counters`)).body,
      reset: () => http('POST', `${dUrl}/counters/reset`),
      records: async (entity) => (await http('GET', `${dUrl}/records/${entity}`)).body,
      edit: (entity, id, fields) => http('PATCH', `${dUrl}/records/${entity}/${id}`, fields),
      exists: async (entity, id) => (await http('GET', `${dUrl}/records/${entity}/${id}`)).status === 200,
    },
    async close() {
      await tandem.close();
      if (externalUri) {
        const { MongoClient } = require('mongodb');
        const client = new MongoClient(externalUri);
        await client.db(dbName).dropDatabase();
        await client.close();
      }
      await mongo?.stop();
      await Promise.all([marketo.stop(), dynamics.stop(), counter?.stop()]);
    },
  };
}

/** Marketo REST calls that read people (describe and activity-type calls are one-off metadata). */
const MARKETO_READS = [
  'GET /v1/leads.json',
  'GET /v1/lead/:id.json',
  'GET /v1/activities/pagingtoken.json',
  'GET /v1/activities/leadchanges.json',
  'GET /v1/activities.json',
  'GET /v1/activities/deletedleads.json',
];
const MARKETO_WRITES = ['POST /v1/leads.json'];
const sum = (byEndpoint, names) => names.reduce((n, name) => n + (byEndpoint[name] ?? 0), 0);
const round = (x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Measures `work` (a function running sync cycles): API calls on both sandboxes, MongoDB commands, CPU time of
 * this process.
 */
async function measure(world, work) {
  await Promise.all([world.marketo.reset(), world.dynamics.reset()]);
  const before = await world.mongoCounts();
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMicros();
  const t0 = performance.now();
  const runs = await work();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const main1 = mainThreadCpuMicros();
  const after = await world.mongoCounts();
  const mongoCommands = after.commands - before.commands;
  const diff = (a = {}, b = {}) =>
    Object.fromEntries(
      Object.entries(b)
        .map(([k, v]) => [k, v - (a[k] ?? 0)])
        .filter(([, v]) => v > 0),
    );
  const mongo =
    after.bytes !== undefined
      ? {
          bytesSent: after.bytes - before.bytes,
          bytesReceived: after.bytesReceived - before.bytesReceived,
          commandsByName: diff(before.byName, after.byName),
          bytesByName: diff(before.bytesByName, after.bytesByName),
        }
      : undefined;
  const [m, d] = await Promise.all([world.marketo.counters(), world.dynamics.counters()]);
  return {
    runs,
    wallMs,
    cpuMicros: cpu.user + cpu.system,
    cpuUserMicros: cpu.user,
    cpuSystemMicros: cpu.system,
    ...(main0 !== undefined && main1 !== undefined ? { cpuMainThreadMicros: main1 - main0 } : {}),
    mongoCommands,
    ...(mongo ? { mongo } : {}),
    marketo: {
      calls: m.restCalls,
      identityCalls: m.identityCalls,
      reads: sum(m.byEndpoint, MARKETO_READS),
      writes: sum(m.byEndpoint, MARKETO_WRITES),
      recordsWritten: m.recordsWritten,
      byEndpoint: m.byEndpoint,
      throttled606: m.throttled606,
    },
    dataverse: {
      requests: d.requests,
      tokenRequests: d.tokenRequests,
      batches: d.batches,
      operations: d.operations,
    },
  };
}

/**
 * Waits until this process is quiet: no 500 ms window using more than 2 % of a core, 15 s at most. A fresh
 * process keeps V8's helper threads busy for a while after start-up (compiling what start-up ran, collecting
 * its garbage), some 200 ms of CPU that would otherwise land in the first sync measured and be charged to the
 * people it syncs. Answers the process's CPU so far (start-up, reported on its own) and the wait.
 */
async function quietAfterStartUp() {
  const t0 = performance.now();
  let last = process.cpuUsage();
  while (performance.now() - t0 < 15_000) {
    await sleep(500);
    const used = process.cpuUsage(last);
    last = process.cpuUsage();
    if (used.user + used.system < 10_000) break;
  }
  const total = process.cpuUsage();
  return { startupCpuMillis: (total.user + total.system) / 1000, quietAfterMs: performance.now() - t0 };
}

/** Cycles until one reads nothing new to write (at most `max`). */
async function settle(tandem, max = 6) {
  const runs = [];
  for (let i = 0; i < max; i++) {
    const run = await tandem.sync.runOnce(PIPELINE);
    if (!run) throw new Error('a cycle could not start');
    if (run.status !== 'succeeded') throw new Error(`cycle ${run.status}: ${run.error ?? ''}`);
    runs.push(run);
    if ((run.counts.created ?? 0) + (run.counts.updated ?? 0) === 0) break;
  }
  return runs;
}

/** With BENCH_PROFILE=dir, writes a CPU profile of `work` there (to find where Tandem's time goes). */
async function profiled(name, work) {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return work();
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

// ---- child: one scenario of N people ----------------------------------------------------------------------

/**
 * N people: Marketo holds samples 0..¾N; Dynamics holds ½N contacts (¼N..¾N, the same people as in Marketo,
 * matched by email) and ¼N leads (¾N..N, only in Dynamics). The initial sync links ½N by email, creates ¼N
 * leads in Dynamics and ¼N persons in Marketo. Then an idle cycle; then K = N/10 people change on each side.
 */
async function scenario(n) {
  const world = await startWorld({
    marketoPeople: (3 * n) / 4,
    contacts: { from: n / 4, count: n / 2 },
    leads: { from: (3 * n) / 4, count: n / 4 },
  });
  // Unthrottled server here (the throttled scenario is separate); Tandem's own limiter still paces itself.
  await world.marketo.faults({ throttle: false });
  const startUp = await quietAfterStartUp();
  const baselineRssMb = process.memoryUsage.rss() / 2 ** 20;
  try {
    const initial = await profiled('initial', () => measure(world, () => settle(world.tandem)));
    // What the process still holds once the initial sync is over: flat in N unless something keeps per-person state.
    globalThis.gc?.();
    const heapAfterInitialMb = process.memoryUsage().heapUsed / 2 ** 20;
    const idle = await measure(world, () => settle(world.tandem, 1));

    const k = n / 10;
    const persons = (await world.marketo.persons()).slice(0, k);
    const contacts = (await world.dynamics.records('contact')).slice(0, k);
    await pool(persons, 8, (p) => world.marketo.edit(p.id, { title: `Changed title ${p.id}` }));
    await pool(contacts, 8, (c) => world.dynamics.edit('contact', c.id, { address1_city: `Changed city ${c.id}` }));
    const changes = await measure(world, () => settle(world.tandem));

    // The process's peak resident set (this child runs one scenario only, so it is this scenario's peak).
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    return {
      people: n,
      k,
      initial,
      idle,
      changes,
      baselineRssMb,
      startUp,
      peakRssMb,
      heapAfterInitialMb,
      mongoCommandsCountedBy: world.mongoCommandsCountedBy,
    };
  } finally {
    await world.close();
  }
}

// ---- child: Marketo with Salesforce, N people ------------------------------------------------------------

/** Salesforce requests that read people, and those that write them (Collections, Bulk API 2.0, single rows). */
const SALESFORCE_READS = ['query', 'queryMore', 'retrieve', 'updated', 'deleted', 'sobjectRead'];
const SALESFORCE_WRITES = ['collections', 'bulk', 'sobjectWrite'];

/**
 * The same shape of people as `scenario`, on the pipeline sandbox mode ships (Marketo persons with Salesforce
 * Contacts and Leads): Marketo holds samples 0..¾N; Salesforce holds ½N Contacts (¼N..¾N) and ¼N Leads (¾N..N).
 * The initial sync links ½N by email and creates ¼N Leads in Salesforce and ¼N persons in Marketo; then an idle
 * cycle; then K = N/10 people change on each side. Counts Salesforce's requests; Tandem's CPU is `scenario`'s.
 */
async function salesforceScenario(n) {
  const { startTandem, sandboxConnectorConfig } = require('@tandem/core');
  const { startTestMongo } = require('@tandem/core/testing');
  // The preset itself (not a copy), so the figures are those of the pipeline sandbox mode runs.
  const { marketoSalesforcePipeline } = require(join(root, 'core/dist/src/pipelines/presets.js'));
  const pino = require('pino');
  const [marketo, salesforce] = await Promise.all([
    startSandbox('connectors/marketo/sandbox/dist/src/cli.js', ['--people', String((3 * n) / 4)]),
    startSandbox('connectors/salesforce/sandbox/dist/src/cli.js', [
      ...['--contacts', String(n / 2), '--contacts-from', String(n / 4)],
      ...['--leads', String(n / 4), '--leads-from', String((3 * n) / 4)],
    ]),
  ]);
  dispatcher = new undici.Agent({ connect: { ca: salesforce.info.caPem } });
  const externalUri = process.env.MONGODB_URI;
  const mongo = externalUri ? undefined : await startTestMongo();
  await mongo?.client.close();
  const dbName = `bench_sf_${process.pid}_${Date.now()}`;
  const tandem = await startTandem({
    env: { TANDEM_API_TOKEN: TOKEN, LOG_LEVEL: 'silent' },
    pluginConfig: {
      marketo: sandboxConnectorConfig(require('@tandem/connector-marketo').default, marketo.info),
      salesforce: sandboxConnectorConfig(require('@tandem/connector-salesforce').default, salesforce.info),
    },
    mongoUri: externalUri ?? mongo.uri,
    dbName,
    port: 0,
    logger: pino({ level: 'silent' }),
    schedule: false,
  });
  const mUrl = `${marketo.info.url}/__sandbox`;
  const sUrl = `${salesforce.info.url}/__sandbox`;
  try {
    await http('POST', `${mUrl}/faults`, { throttle: false });
    const pipeline = marketoSalesforcePipeline(5);
    // The REST body: the sides named in their order, and the interval on its own.
    const created = await http('POST', `${tandem.url}/v1/pipelines`, {
      id: pipeline.id,
      name: pipeline.name,
      sides: pipeline.sides,
      mappings: pipeline.mappings,
      intervalMinutes: pipeline.schedule.intervalMinutes,
      paused: true,
    });
    if (created.status !== 201) throw new Error(`pipeline: ${created.status} ${JSON.stringify(created.body)}`);
    const cycles = async (max) => {
      await Promise.all([http('POST', `${mUrl}/counters/reset`), http('POST', `${sUrl}/counters/reset`)]);
      const runs = [];
      for (let i = 0; i < max; i++) {
        const run = await tandem.sync.runOnce(pipeline.id);
        if (!run || run.status !== 'succeeded') throw new Error(`cycle ${run?.status}: ${run?.error ?? ''}`);
        runs.push(run);
        if ((run.counts.created ?? 0) + (run.counts.updated ?? 0) === 0) break;
      }
      const [m, s] = await Promise.all([http('GET', `${mUrl}/counters`), http('GET', `${sUrl}/counters`)]);
      const byKind = Object.fromEntries(Object.entries(s.body.byKind).filter(([, v]) => v > 0));
      return {
        cycles: runs.length,
        salesforce: {
          requests: s.body.apiRequests,
          tokenRequests: s.body.tokenRequests,
          reads: SALESFORCE_READS.reduce((a, k) => a + (byKind[k] ?? 0), 0),
          writes: SALESFORCE_WRITES.reduce((a, k) => a + (byKind[k] ?? 0), 0),
          recordsWritten: s.body.recordWrites,
          byKind,
        },
        marketo: {
          calls: m.body.restCalls,
          identityCalls: m.body.identityCalls,
          recordsWritten: m.body.recordsWritten,
        },
      };
    };
    const initial = await cycles(6);
    const idle = await cycles(1);
    const k = n / 10;
    const persons = (await http('GET', `${mUrl}/persons`)).body.slice(0, k);
    const contacts = (await http('GET', `${sUrl}/records/Contact`)).body.slice(0, k);
    await pool(persons, 8, (p) => http('PATCH', `${mUrl}/persons/${p.id}`, { title: `Changed title ${p.id}` }));
    await pool(contacts, 8, (c) => http('PATCH', `${sUrl}/records/Contact/${c.id}`, { MailingCity: `City ${c.id}` }));
    const changes = await cycles(6);
    return { people: n, k, initial, idle, changes };
  } finally {
    await tandem.close();
    await mongo?.stop();
    await Promise.all([marketo.stop(), salesforce.stop()]);
  }
}

// ---- child: throttled throughput and push latency ------------------------------------------------------

async function throughput() {
  const world = await startWorld({
    marketoPeople: 5000,
    contacts: { from: 0, count: 0 },
    leads: { from: 0, count: 0 },
  });
  try {
    const ids = (await world.marketo.persons()).map((p) => String(p.id));
    const pushOne = async (marketoId) => {
      const res = await http('POST', `${world.tandem.url}/v1/pipelines/${PIPELINE}/push`, { marketoId, as: 'lead' });
      if (res.status !== 200 && res.status !== 201)
        throw new Error(`push answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    };

    // Push latency: one at a time, from the POST to the lead being readable in Dynamics.
    await world.marketo.faults({ throttle: false });
    const latencies = [];
    for (const marketoId of ids.splice(0, PUSHES)) {
      const t0 = performance.now();
      const { dynamicsId, objectType } = await pushOne(marketoId);
      while (!(await world.dynamics.exists(objectType, dynamicsId))) await sleep(5);
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];

    // Throttled: the server enforces Marketo's real limits; 20 callers push people for THROTTLED_SECONDS.
    await world.marketo.faults({ throttle: true });
    await http('POST', `${world.marketo.url}/limits`, {
      callsPerWindow: LIMIT.calls,
      windowMs: LIMIT.windowMs,
      maxConcurrent: LIMIT.concurrent,
    });
    await http('POST', `${world.marketo.url}/window/reset`);
    await world.marketo.reset();
    const samples = [];
    const okCalls = (c) => c.restCalls - Object.values(c.byErrorCode).reduce((a, b) => a + b, 0);
    const t0 = performance.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const c = await world.marketo.counters();
        samples.push({ t: performance.now() - t0, ok: okCalls(c) });
        await sleep(200);
      }
    })();
    const demandMs = THROTTLED_SECONDS * 1000;
    let pushes = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (performance.now() - t0 < demandMs && ids.length > 0) {
          await pushOne(ids.shift());
          pushes += 1;
        }
      }),
    );
    sampling = false;
    await sampler;
    const counters = await world.marketo.counters();
    // Occupancy of Marketo's rolling window, sampled while demand exceeded the limit (after the first window).
    const occupancy = [];
    for (const s of samples) {
      if (s.t < LIMIT.windowMs || s.t > demandMs) continue;
      // The oldest sample inside the window: the count never spans more than one window (it errs low).
      const before = samples.find((x) => x.t >= s.t - LIMIT.windowMs);
      if (before) occupancy.push(s.ok - before.ok);
    }
    const mean = occupancy.reduce((a, b) => a + b, 0) / Math.max(1, occupancy.length);
    return {
      throttled: {
        shareOfLimit: round(mean / LIMIT.calls, 3),
        marketo606: counters.throttled606,
        marketo615: counters.concurrency615,
        seconds: THROTTLED_SECONDS,
        pushes,
        callsOk: okCalls(counters),
        meanCallsPerWindow: round(mean, 1),
        maxInFlight: counters.maxInFlight,
      },
      push: { count: latencies.length, p50Ms: round(pct(50), 1), p95Ms: round(pct(95), 1) },
    };
  } finally {
    await world.close();
  }
}

// ---- parent: run the children, print, write results.json --------------------------------------------------

function runChild(args) {
  return new Promise((resolve, reject) => {
    // --expose-gc: the scenario measures the live heap after a full collection (it never collects otherwise).
    const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench ${args.join(' ')} exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

const per1000 = (requests, records) => (records > 0 ? round((requests * 1000) / records) : null);

function summarize(r) {
  const { initial, idle, changes, people } = r;
  // Marketo persons the cycles read: ¾N existing, plus the ¼N Tandem created there, read back as changes.
  const marketoRead = people;
  return {
    people,
    marketoCallsPer1000Read: per1000(initial.marketo.reads, marketoRead),
    marketoCallsPer1000Written: per1000(initial.marketo.writes, initial.marketo.recordsWritten),
    dataverseRequestsPer1000Written: per1000(initial.dataverse.batches, initial.dataverse.operations),
    mongoCommandsPerPerson: round(initial.mongoCommands / people, 2),
    cpuMicrosPerPerson: round(initial.cpuMicros / people, 1),
    ...(initial.cpuMainThreadMicros !== undefined
      ? { cpuMainThreadMicrosPerPerson: round(initial.cpuMainThreadMicros / people, 1) }
      : {}),
    peakRssMb: round(r.peakRssMb, 1),
    idleCycleApiCalls:
      idle.marketo.calls + idle.marketo.identityCalls + idle.dataverse.requests + idle.dataverse.tokenRequests,
    idleCycleMongoCommands: idle.mongoCommands,
    // More detail.
    mongoCommandsCountedBy: r.mongoCommandsCountedBy,
    baselineRssMb: round(r.baselineRssMb, 1),
    ...(r.startUp
      ? {
          startupCpuMillis: round(r.startUp.startupCpuMillis, 1),
          quietAfterStartUpMs: round(r.startUp.quietAfterMs, 0),
        }
      : {}),
    ...(r.heapAfterInitialMb ? { heapAfterInitialSyncMb: round(r.heapAfterInitialMb, 1) } : {}),
    initialSync: {
      cycles: initial.runs.length,
      cpuMillis: round(initial.cpuMicros / 1000, 1),
      cpuUserMicrosPerPerson: round(initial.cpuUserMicros / people, 1),
      cpuSystemMicrosPerPerson: round(initial.cpuSystemMicros / people, 1),
      // The main thread's share is cpuMainThreadMicrosPerPerson, beside cpuMicrosPerPerson.
      ...(initial.cpuMainThreadMicros !== undefined
        ? { cpuHelperThreadsMicrosPerPerson: round((initial.cpuMicros - initial.cpuMainThreadMicros) / people, 1) }
        : {}),
      wallSecondsOnThisMongo: round(initial.wallMs / 1000, 2),
      marketoRecordsWritten: initial.marketo.recordsWritten,
      dataverseRecordsWritten: initial.dataverse.operations,
      marketo: initial.marketo,
      dataverse: initial.dataverse,
      mongoCommands: initial.mongoCommands,
      ...(initial.mongo ? { mongo: initial.mongo } : {}),
    },
    changes: {
      changedPerSide: r.k,
      cycles: changes.runs.length,
      wallSecondsOnThisMongo: round(changes.wallMs / 1000, 2),
      marketoCallsPer1000Read: per1000(changes.marketo.reads, 2 * r.k),
      marketoCallsPer1000Written: per1000(changes.marketo.writes, changes.marketo.recordsWritten),
      marketoFloorPer1000Written: per1000(
        Math.ceil(changes.marketo.recordsWritten / 300),
        changes.marketo.recordsWritten,
      ),
      dataverseRequestsPer1000Written: per1000(changes.dataverse.batches, changes.dataverse.operations),
      dataverseFloorPer1000Written: per1000(
        Math.ceil(changes.dataverse.operations / 1000),
        changes.dataverse.operations,
      ),
      mongoCommandsPerPerson: round(changes.mongoCommands / (2 * r.k), 2),
      cpuMicrosPerPerson: round(changes.cpuMicros / (2 * r.k), 1),
      marketo: changes.marketo,
      dataverse: changes.dataverse,
      mongoCommands: changes.mongoCommands,
      ...(changes.mongo ? { mongo: changes.mongo } : {}),
    },
    idleCycle: { marketo: idle.marketo, dataverse: idle.dataverse, mongoCommands: idle.mongoCommands },
  };
}

/** The Salesforce scenario's figures: requests per 1,000 records written and an idle cycle's calls. */
function summarizeSalesforce(r) {
  const { initial, idle, changes, people } = r;
  const httpCalls = (s) => Object.values(s.byKind).reduce((a, b) => a + b, 0) + s.tokenRequests;
  const phase = (p) => ({
    cycles: p.cycles,
    recordsWritten: p.salesforce.recordsWritten,
    writeRequests: p.salesforce.writes,
    writeRequestsPer1000Written: per1000(p.salesforce.writes, p.salesforce.recordsWritten),
    // sObject Collections' floor: 200 records a request (Bulk API 2.0 can go below it).
    collectionsFloorPer1000Written: per1000(Math.ceil(p.salesforce.recordsWritten / 200), p.salesforce.recordsWritten),
    readRequests: p.salesforce.reads,
    salesforce: p.salesforce,
    marketo: p.marketo,
  });
  return {
    people,
    salesforceRequestsPer1000Written: per1000(initial.salesforce.writes, initial.salesforce.recordsWritten),
    collectionsFloorPer1000Written: phase(initial).collectionsFloorPer1000Written,
    salesforceRequestsPer1000WrittenChanges: per1000(changes.salesforce.writes, changes.salesforce.recordsWritten),
    collectionsFloorPer1000WrittenChanges: phase(changes).collectionsFloorPer1000Written,
    idleCycleSalesforceApiRequests: idle.salesforce.requests,
    idleCycleSalesforceHttpCalls: httpCalls(idle.salesforce),
    initialSync: phase(initial),
    changes: { changedPerSide: r.k, ...phase(changes) },
    idleCycle: idle,
  };
}

/** What differs between repeated runs of one size, listed beside the run kept. */
function eachRun(tries) {
  return {
    cpuMicrosPerPersonOfEachRun: tries.map((t) => t.cpuMicrosPerPerson),
    peakRssMbOfEachRun: tries.map((t) => t.peakRssMb),
  };
}

function machine() {
  const cpus = os.cpus();
  const detail = {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    os: `${os.platform()} ${os.release()}`,
    mongo: process.env.MONGODB_URI ? 'MongoDB at MONGODB_URI' : 'jongodb (embedded, in memory)',
  };
  const text = `${detail.cpu}, ${detail.cores} cores, ${detail.memoryGb} GB, Node ${detail.node}, ${detail.os}; ${detail.mongo}`;
  return { text, detail };
}

function table(results) {
  const rows = [
    ['Marketo calls / 1,000 people read (min 3.33)', 'marketoCallsPer1000Read', '—'],
    ['Marketo calls / 1,000 written (min 3.33)', 'marketoCallsPer1000Written', '≤ 4'],
    ['Dataverse requests / 1,000 written (min 1)', 'dataverseRequestsPer1000Written', '≤ 2'],
    ['MongoDB commands / person (initial sync)', 'mongoCommandsPerPerson', '—'],
    ['Tandem CPU µs / person (initial sync)', 'cpuMicrosPerPerson', '≤ 50'],
    ['… of it on the main thread (the rest: V8 helper threads)', 'cpuMainThreadMicrosPerPerson', '—'],
    ['… of each additional person (vs. previous size)', 'marginalCpuMicrosPerPerson', '—'],
    ['Peak RSS, MB', 'peakRssMb', '≤ 250, flat'],
    ['Idle cycle: API calls', 'idleCycleApiCalls', '≤ 6'],
    ['Idle cycle: MongoDB commands', 'idleCycleMongoCommands', '≤ 20'],
  ];
  const head = ['', ...results.runs.map((r) => `${r.people.toLocaleString('en-US')} people`), 'target'];
  const body = rows.map(([label, key, target]) => [label, ...results.runs.map((r) => String(r[key] ?? '—')), target]);
  body.push([
    `Initial sync wall time, s (${process.env.MONGODB_URI ? 'MongoDB' : "jongodb: its time, not Tandem's"})`,
    ...results.runs.map((r) => String(r.initialSync.wallSecondsOnThisMongo)),
    '—',
  ]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((row) => row[i].length)));
  const line = (row) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of body) console.log(line(row));
  if (results.salesforce) {
    const sf = results.salesforce.runs;
    const sfRows = [
      ['Salesforce requests / 1,000 written (initial sync)', 'salesforceRequestsPer1000Written', '≤ 5'],
      ['… its floor with Collections (200 a request)', 'collectionsFloorPer1000Written', '—'],
      ['Salesforce requests / 1,000 written (changes)', 'salesforceRequestsPer1000WrittenChanges', '≤ 5'],
      ['… its floor with Collections (200 a request)', 'collectionsFloorPer1000WrittenChanges', '—'],
      ['Idle cycle: Salesforce API requests (counted by the org)', 'idleCycleSalesforceApiRequests', '≤ 3'],
      ['Idle cycle: Salesforce HTTP calls (incl. free ones)', 'idleCycleSalesforceHttpCalls', '—'],
    ];
    const sfHead = ['Marketo ↔ Salesforce', ...sf.map((r) => `${r.people.toLocaleString('en-US')} people`), 'target'];
    const sfBody = sfRows.map(([label, key, target]) => [label, ...sf.map((r) => String(r[key] ?? '—')), target]);
    const w = sfHead.map((_, i) => Math.max(...[sfHead, ...sfBody].map((row) => row[i].length)));
    const sfLine = (row) => `| ${row.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
    console.log(`\n${sfLine(sfHead)}`);
    console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
    for (const row of sfBody) console.log(sfLine(row));
  }
  const t = results.throttled;
  console.log(
    `\nThrottled (100 calls / 20 s, 10 concurrent), ${t.seconds} s of pushes: ${round(t.shareOfLimit * 100, 1)} % of the limit, ${t.marketo606} × 606, ${t.marketo615} × 615 (target ≥ 90 %, 0 × 606)`,
  );
  console.log(
    `Push latency over ${results.push.count} pushes: p50 ${results.push.p50Ms} ms, p95 ${results.push.p95Ms} ms (target p95 ≤ 2,000 ms)`,
  );
  console.log(`\nMachine: ${results.machine}`);
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--scenario') return void console.log(JSON.stringify(await scenario(Number(args[1]))));
  if (args[0] === '--throughput') return void console.log(JSON.stringify(await throughput()));
  if (args[0] === '--salesforce') return void console.log(JSON.stringify(await salesforceScenario(Number(args[1]))));
  const resultsFile = join(root, 'bench/results.json');
  const previous = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : undefined;
  if (args[0] === '--merge') {
    // Adds the output of separate `--scenario N` (or `--salesforce N`) children (long runs on jongodb) to results.json. Several runs of
    // one size are kept as BENCH_REPEAT keeps them: the one whose initial sync used the least CPU, with every
    // run's CPU and peak RSS listed beside it.
    if (!previous) throw new Error('bench/results.json does not exist yet: run the bench first');
    const outputs = args.slice(1).map((file) => JSON.parse(readFileSync(file, 'utf8')));
    // `--salesforce N` outputs replace the Salesforce figures of their size.
    for (const r of outputs.filter((o) => o.initial?.salesforce)) {
      const run = { ...summarizeSalesforce(r), measuredAt: new Date().toISOString() };
      const others = (previous.salesforce?.runs ?? []).filter((x) => x.people !== r.people);
      previous.salesforce = { runs: [...others, run].sort((a, b) => a.people - b.people) };
    }
    const merged = outputs.filter((o) => !o.initial?.salesforce).map(summarize);
    for (const people of new Set(merged.map((r) => r.people))) {
      const tries = merged
        .filter((r) => r.people === people)
        .sort((a, b) => a.cpuMicrosPerPerson - b.cpuMicrosPerPerson);
      const run = {
        ...tries[0],
        ...(tries.length > 1 ? eachRun(tries) : {}),
        measuredAt: new Date().toISOString(),
      };
      previous.runs = [...previous.runs.filter((r) => r.people !== people), run].sort((a, b) => a.people - b.people);
    }
    writeFileSync(resultsFile, `${JSON.stringify(previous, null, 2)}\n`);
    return table(previous);
  }

  // jongodb's operations are linear in the collection size: 10,000 people take it a few minutes, 50,000 hours.
  const sizes = (process.env.BENCH_PEOPLE ?? (process.env.MONGODB_URI ? '1000,10000,50000' : '1000,10000'))
    .split(',')
    .map(Number);
  const runs = [];
  // CPU time comes out up to a quarter higher while the machine does other work; BENCH_REPEAT=K keeps, of K runs
  // of each size, the one whose initial sync used the least CPU (the others' figures are listed beside it).
  const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
  for (const n of sizes) {
    const tries = [];
    for (let k = 0; k < repeat; k++) {
      console.error(`bench: ${n} people${repeat > 1 ? ` (run ${k + 1} of ${repeat})` : ''}…`);
      tries.push(summarize(await runChild(['--scenario', String(n)])));
    }
    tries.sort((a, b) => a.cpuMicrosPerPerson - b.cpuMicrosPerPerson);
    const best = tries[0];
    runs.push({
      ...best,
      ...(repeat > 1 ? eachRun(tries) : {}),
      measuredAt: new Date().toISOString(),
    });
  }
  const salesforceRuns = [];
  for (const n of sizes) {
    console.error(`bench: Marketo ↔ Salesforce, ${n} people…`);
    salesforceRuns.push({
      ...summarizeSalesforce(await runChild(['--salesforce', String(n)])),
      measuredAt: new Date().toISOString(),
    });
  }
  console.error(`bench: throttled throughput (${THROTTLED_SECONDS} s) and push latency…`);
  const { throttled, push } = await runChild(['--throughput']);
  const { text, detail } = machine();
  // Sizes not measured this time (BENCH_PEOPLE) keep their last figures, each with the time it was measured.
  const kept = (process.env.BENCH_PEOPLE && previous?.machine === text ? previous.runs : []).filter(
    (r) => !sizes.includes(r.people),
  );
  const allRuns = [...kept, ...runs].sort((a, b) => a.people - b.people);
  const keptSalesforce = (
    process.env.BENCH_PEOPLE && previous?.machine === text ? (previous.salesforce?.runs ?? []) : []
  ).filter((r) => !sizes.includes(r.people));
  const allSalesforce = [...keptSalesforce, ...salesforceRuns].sort((a, b) => a.people - b.people);
  // CPU of each additional person: the difference to the next smaller run, which cancels the process's one-off
  // cost (compiling its code, first connections, describe calls) that cpuMicrosPerPerson spreads over N.
  allRuns.forEach((r, i) => {
    const prev = allRuns[i - 1];
    if (prev?.initialSync?.cpuMillis !== undefined && r.initialSync?.cpuMillis !== undefined) {
      r.marginalCpuMicrosPerPerson = round(
        ((r.initialSync.cpuMillis - prev.initialSync.cpuMillis) * 1000) / (r.people - prev.people),
        1,
      );
    }
  });
  const results = {
    machine: text,
    machineDetail: detail,
    runs: allRuns,
    salesforce: { runs: allSalesforce },
    throttled,
    push,
  };
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  table(results);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
