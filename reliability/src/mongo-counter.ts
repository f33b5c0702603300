/**
 * The MongoDB commands Tandem sends, counted on the wire by the benchmarks' pass-through
 * (`bench/mongo-counter.mjs`, a process of its own between Tandem and the server), so that the suite's own
 * queries are never counted and Tandem runs unchanged.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const SCRIPT = resolve(__dirname, '../../../bench/mongo-counter.mjs');

export interface MongoCounts {
  commands: number;
  /** Per command and collection, e.g. `"update links": 3`. */
  byName: Record<string, number>;
}

export interface MongoCounter {
  /** `host:port` to give Tandem instead of the server's. */
  address: string;
  counts(): Promise<MongoCounts>;
  stop(): Promise<void>;
}

export function startMongoCounter(upstream: string): Promise<MongoCounter> {
  const child = spawn(process.execPath, [SCRIPT, upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`bench/mongo-counter.mjs exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      child.removeAllListeners('exit');
      const info = JSON.parse(line) as { address: string; countsUrl: string };
      ok({
        address: info.address,
        counts: async () => (await (await fetch(info.countsUrl)).json()) as MongoCounts,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
