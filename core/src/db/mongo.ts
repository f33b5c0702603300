/**
 * The MongoDB connection Tandem runs on: the operator's MONGODB_URI, or an embedded server it owns (and
 * stops on close). The engine and whether data survives a restart are logged and shown by `/ready`.
 */
import { MongoClient, type CommandStartedEvent, type Db } from 'mongodb';
import type { Logger } from 'pino';
import type { EmbeddedMongodPolicy } from '../config';
import { startEmbeddedMongo, type MongoEngine } from './embedded';

export interface MongoInfo {
  engine: MongoEngine;
  persistent: boolean;
  database: string;
  /** Set when data will not survive a restart: shown at start and in `/ready`. */
  warning?: string;
}

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  info: MongoInfo;
  /** True when the server answers a ping within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface MongoOptions {
  uri: string | undefined;
  /** Database name; defaults to the one in the URI, else `tandem`. */
  dbName?: string;
  embedded: EmbeddedMongodPolicy;
  /** Where embedded engines keep their data. */
  dataDir: string;
  logger: Logger;
  /**
   * Called for every command the driver sends (command monitoring, off unless given). For benchmarks and
   * diagnostics: it sees command names and databases, and must be cheap.
   */
  onCommand?: (event: CommandStartedEvent) => void;
}

/**
 * How long the driver waits before it calls MongoDB unreachable: 10 s to find a server, 10 s to connect or
 * to hear from its monitor (the driver's 30 s default kept requests and cycles hanging for 40 s when MongoDB
 * stopped answering). Options in MONGODB_URI win (`?serverSelectionTimeoutMS=…`), so each is set only when
 * the URI does not name it.
 */
const TIMEOUT_DEFAULTS = { serverSelectionTimeoutMS: 10_000, connectTimeoutMS: 10_000 } as const;

function timeoutDefaults(uri: string): Partial<typeof TIMEOUT_DEFAULTS> {
  const query = uri.split('?')[1] ?? '';
  const named = new Set(query.split('&').map((pair) => (pair.split('=')[0] ?? '').toLowerCase()));
  return Object.fromEntries(Object.entries(TIMEOUT_DEFAULTS).filter(([key]) => !named.has(key.toLowerCase())));
}

function dbNameFrom(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}

export async function connectMongo(options: MongoOptions): Promise<MongoHandle> {
  const { logger } = options;
  const embedded = options.uri ? undefined : await startEmbeddedMongo(options.embedded, options.dataDir, logger);
  const uri = options.uri ?? embedded!.uri;
  const engine: MongoEngine = embedded?.engine ?? 'external';
  const persistent = embedded?.persistent ?? true;
  // jongodb's URI names `test`; that is its default, not an operator's choice.
  const database = options.dbName ?? (embedded ? 'tandem' : (dbNameFrom(uri) ?? 'tandem'));
  const client = new MongoClient(uri, {
    ...timeoutDefaults(uri),
    appName: 'tandem',
    ...(options.onCommand ? { monitorCommands: true } : {}),
  });
  if (options.onCommand) client.on('commandStarted', options.onCommand);
  try {
    await client.connect();
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const info: MongoInfo = { engine, persistent, database };
  if (!persistent) {
    info.warning = `MongoDB is the in-memory ${engine} engine: links, snapshots, cursors and settings will not survive a restart. Set MONGODB_URI to keep them.`;
  }
  if (engine === 'external') logger.info({ database }, 'using MongoDB from MONGODB_URI');
  else
    logger.info(
      { engine, database, persistent },
      `started embedded MongoDB (${engine}); data ${persistent ? `is kept in ${options.dataDir}` : 'lives in memory only'}`,
    );

  return {
    client,
    db: client.db(database),
    info,
    async ping(timeoutMs = 2000) {
      try {
        await client.db(database).command({ ping: 1 }, { timeoutMS: timeoutMs });
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await client.close();
      await embedded?.stop();
    },
  };
}
