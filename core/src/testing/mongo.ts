/**
 * One real MongoDB wire-protocol server (jongodb) per test file, and a fresh database name per test, so
 * tests never see each other's data and never pay for a second server start.
 *
 *   const mongo = await startTestMongo();
 *   after(() => mongo.stop());
 *   test('...', async () => { const db = mongo.freshDb(); ... });
 */
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { startJongodb } from '../db/jongodb';

export interface TestMongo {
  /** The server's URI without a database name. */
  uri: string;
  /** A client shared by the test file. */
  client: MongoClient;
  /** A new, unused database name. */
  freshDbName(prefix?: string): string;
  /** A handle on a new, unused database. */
  freshDb(prefix?: string): Db;
  stop(): Promise<void>;
}

export async function startTestMongo(): Promise<TestMongo> {
  // MONGODB_TEST_URI lets CI point the tests at a real mongod instead.
  const external = process.env['MONGODB_TEST_URI'];
  const server = external ? undefined : await startJongodb();
  const uri = (external ?? server!.uri).replace(/\/[^/?]*(\?.*)?$/, '/$1');
  const client = new MongoClient(uri);
  await client.connect();
  let counter = 0;
  const freshDbName = (prefix = 't'): string => `${prefix}_${randomBytes(4).toString('hex')}_${++counter}`;
  return {
    uri,
    client,
    freshDbName,
    freshDb: (prefix) => client.db(freshDbName(prefix)),
    async stop() {
      await client.close();
      await server?.stop();
    },
  };
}
