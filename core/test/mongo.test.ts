/** The MongoDB connection: Tandem's timeout defaults, and the operator's MONGODB_URI options over them. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { connectMongo } from '../src/db';
import { silentLogger } from '../src/observability';
import { startTestMongo, type TestMongo } from '../src/testing';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

async function optionsFor(uri: string): Promise<{ serverSelectionTimeoutMS: number; connectTimeoutMS: number }> {
  const handle = await connectMongo({ uri, embedded: 'auto', dataDir: tmpdir(), logger: silentLogger() });
  try {
    const { serverSelectionTimeoutMS, connectTimeoutMS } = handle.client.options;
    return { serverSelectionTimeoutMS, connectTimeoutMS };
  } finally {
    await handle.close();
  }
}

test('MongoDB is called unreachable after 10 s by default, not the driver 30 s', async () => {
  assert.deepEqual(await optionsFor(`${mongo.uri}${mongo.freshDbName()}`), {
    serverSelectionTimeoutMS: 10_000,
    connectTimeoutMS: 10_000,
  });
});

test('timeouts named in MONGODB_URI win over Tandem defaults', async () => {
  const uri = `${mongo.uri}${mongo.freshDbName()}?serverSelectionTimeoutMS=1234&connectTimeoutMS=2345`;
  assert.deepEqual(await optionsFor(uri), { serverSelectionTimeoutMS: 1234, connectTimeoutMS: 2345 });
});
