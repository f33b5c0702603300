/**
 * The embedded MongoDB used when MONGODB_URI is unset, best first: a real `mongod` on PATH (data kept in
 * `.tandem/mongod`), mongodb-memory-server's downloaded mongod (only when TANDEM_EMBEDDED_MONGOD=download,
 * because downloading is slow and impossible offline), else jongodb in memory. jongodb's binary is an
 * optional dependency built for Linux x64 (glibc) only: elsewhere, with neither of the others, start-up
 * stops with a message saying what to set.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { MongoClient } from 'mongodb';
import type { Logger } from 'pino';
import type { EmbeddedMongodPolicy } from '../config';
import { TandemError } from '../plugin';
import { startJongodb, stopChild } from './jongodb';

export type MongoEngine = 'external' | 'mongod' | 'mongodb-memory-server' | 'jongodb';

export interface EmbeddedMongo {
  uri: string;
  engine: MongoEngine;
  /** Whether data survives a restart of Tandem. */
  persistent: boolean;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function mongodOnPath(): boolean {
  return spawnSync('mongod', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function waitForPing(uri: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000 });
    try {
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    } finally {
      await client.close();
    }
  }
}

async function startMongod(dataDir: string): Promise<EmbeddedMongo> {
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const child = spawn('mongod', ['--dbpath', dataDir, '--bind_ip', '127.0.0.1', '--port', String(port), '--quiet'], {
    stdio: 'ignore',
  });
  const uri = `mongodb://127.0.0.1:${port}/`;
  try {
    await waitForPing(uri, 30_000);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { uri, engine: 'mongod', persistent: true, stop: () => stopChild(child) };
}

async function startMemoryServer(dataDir: string): Promise<EmbeddedMongo> {
  mkdirSync(dataDir, { recursive: true });
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const server = await MongoMemoryServer.create({ instance: { dbPath: dataDir, storageEngine: 'wiredTiger' } });
  return {
    uri: server.getUri(),
    engine: 'mongodb-memory-server',
    persistent: true,
    stop: async () => {
      await server.stop({ doCleanup: false });
    },
  };
}

export async function startEmbeddedMongo(
  policy: EmbeddedMongodPolicy,
  dataDir: string,
  logger: Logger,
): Promise<EmbeddedMongo> {
  if (mongodOnPath()) {
    try {
      return await startMongod(`${dataDir}/mongod`);
    } catch (error) {
      logger.warn({ err: error }, 'mongod is on PATH but did not start; falling back');
    }
  }
  if (policy === 'download') {
    try {
      return await startMemoryServer(`${dataDir}/mongodb-memory-server`);
    } catch (error) {
      logger.warn({ err: error }, 'mongodb-memory-server could not start a mongod; falling back to jongodb');
    }
  }
  try {
    const server = await startJongodb();
    return { uri: server.uri, engine: 'jongodb', persistent: false, stop: server.stop };
  } catch (error) {
    throw noEmbeddedMongo(error);
  }
}

/** What an operator reads when no embedded engine can run here: exactly what to set. */
function noEmbeddedMongo(cause: unknown): TandemError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new TandemError(
    'BAD_CONFIG',
    `MONGODB_URI is not set and no embedded MongoDB can run on this machine (${process.platform}-${process.arch}): ` +
      `the in-memory engine ships for Linux x64 with glibc only (${why}), and there is no mongod on PATH. ` +
      'Set MONGODB_URI to a MongoDB server, e.g. MONGODB_URI=mongodb://127.0.0.1:27017/tandem ' +
      '(or put mongod on PATH, or set TANDEM_EMBEDDED_MONGOD=download to let Tandem download one).',
    { cause },
  );
}
