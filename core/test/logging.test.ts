/**
 * Errors in the log keep their message, code and cause, whatever they hold, and no credentials. During a
 * MongoDB outage the driver's errors (which hold the whole topology) were logged as "[unable to serialize,
 * circular reference is too complex to analyze]".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { MongoClient, type Collection } from 'mongodb';
import pino, { type Logger } from 'pino';
import { isStoreUnavailable, startJongodb } from '../src/db';
import { createLogger } from '../src/observability';
import { TandemError } from '../src/plugin';

function capture(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out.push(chunk.toString());
      done();
    },
  });
  return {
    logger: pino({ level: 'info' }, stream),
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** An error holding what a driver error holds: a circular object graph that cannot even be stringified safely. */
function tangledError(): Error {
  const topology: Record<string, unknown> = { type: 'Single', servers: new Map() };
  topology['self'] = topology;
  topology['pool'] = {
    toJSON() {
      throw new Error('a socket cannot be serialized');
    },
  };
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:27017'), { code: 'ECONNREFUSED' });
  return Object.assign(new TandemError('CONNECTOR_REQUEST', 'the store did not answer', { cause }), {
    reason: topology,
  });
}

test('an error pino cannot stringify is logged with its type, message, code and cause', () => {
  const plainPino = capture();
  plainPino.logger.error({ err: tangledError() }, 'cycle ended badly');
  assert.match(
    JSON.stringify(plainPino.lines()[0]?.['err']),
    /unable to serialize/,
    "pino's own serializer gives up on this error (the premise of this test)",
  );

  const ours = capture();
  createLogger({ level: 'info', redact: [], base: ours.logger }).error({ err: tangledError() }, 'cycle ended badly');
  const err = ours.lines()[0]?.['err'] as Record<string, unknown>;
  assert.equal(err['type'], 'TandemError');
  assert.equal(err['message'], 'the store did not answer');
  assert.equal(err['code'], 'CONNECTOR_REQUEST');
  assert.match(String(err['stack']), /TandemError: the store did not answer/);
  assert.deepEqual(
    { ...(err['cause'] as Record<string, unknown>), stack: undefined },
    { type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:27017', code: 'ECONNREFUSED', stack: undefined },
  );
  assert.equal(err['reason'], undefined, 'objects an error holds are left out');
});

test('errors in the log carry no credentials', () => {
  const { logger, lines } = capture();
  const error = Object.assign(new Error('cannot reach mongodb://tandem:hunter2@db.internal:27017/tandem'), {
    password: 'hunter2',
    url: 'https://login.example/token?client_secret=s3cr3t&grant=x',
    header: 'Bearer abc.def.ghi',
  });
  createLogger({ level: 'info', redact: [], base: logger }).error({ err: error }, 'failed');
  const text = JSON.stringify(lines());
  for (const secret of ['hunter2', 's3cr3t', 'abc.def.ghi'])
    assert.ok(!text.includes(secret), `${secret} is not logged`);
  assert.match(text, /mongodb:\/\/\[redacted\]@db\.internal/);
});

/** What `write` throws against a jongodb paused (SIGSTOP) after the client connected. */
async function errorWhilePaused(write: (collection: Collection) => Promise<unknown>): Promise<unknown> {
  const server = await startJongodb();
  const client = new MongoClient(server.uri, {
    serverSelectionTimeoutMS: 500,
    connectTimeoutMS: 500,
    heartbeatFrequencyMS: 500,
  });
  try {
    await client.connect();
    await client.db('t').command({ ping: 1 });
    server.process.kill('SIGSTOP');
    return await write(client.db('t').collection('c')).then(
      () => undefined,
      (e: unknown) => e,
    );
  } finally {
    server.process.kill('SIGCONT');
    await client.close();
    await server.stop();
  }
}

test('a bulk write that meets an outage counts as the store being unavailable (the driver wraps the network error)', async () => {
  const error = await errorWhilePaused((c) => c.insertMany([{ a: 1 }, { a: 2 }]));
  assert.ok(error instanceof Error, 'the insert failed');
  assert.equal(error.name, 'MongoBulkWriteError', 'what the driver throws for a bulk write that fails this way');
  assert.ok(isStoreUnavailable(error), 'a bulk write cut off by an outage is the store being unavailable');
});

test('a MongoDB outage error (server paused) is logged with its message and counts as the store being unavailable', async () => {
  const error = await errorWhilePaused((c) => c.insertOne({ a: 1 }));
  assert.ok(error instanceof Error, 'the insert failed');
  assert.ok(isStoreUnavailable(error), `${error.name} means the store is unavailable`);
  const { logger, lines } = capture();
  createLogger({ level: 'info', redact: [], base: logger }).error({ err: error }, 'sync cycle failed');
  const err = lines()[0]?.['err'] as Record<string, unknown>;
  assert.equal(err['type'], error.name);
  assert.equal(err['message'], error.message);
});
