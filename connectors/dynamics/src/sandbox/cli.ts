/**
 * Runs the sandbox in its own process (benchmarks, demos):
 * `node connectors/dynamics/dist/src/sandbox/cli.js --port 0 [--seed] [--host 127.0.0.1]
 *   [--contacts N [--contacts-from I]] [--leads N [--leads-from I]] [--blank col1,col2]`.
 * `--contacts`/`--leads` add that many sample people (`samplePerson(I..)`) as contacts/leads; `--blank` leaves
 * those columns empty in them (people whose Dynamics record lacks what Marketo knows).
 * Prints one JSON line `{ url, config }`; the config's `tlsCa` is the sandbox's certificate.
 */
import { samplePerson } from '@tandem/core/testing';
import { sandboxConfig } from '../config';
import { DataverseSandbox, sampleColumns } from './server';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const sandbox = new DataverseSandbox({
    host: arg('host') ?? '127.0.0.1',
    port: Number(arg('port') ?? 0),
    seed: process.argv.includes('--seed'),
  });
  const started = await sandbox.start();
  const blank = (arg('blank') ?? '').split(',').filter(Boolean);
  for (const type of ['contact', 'lead'] as const) {
    const count = Number(arg(`${type}s`) ?? 0);
    const from = Number(arg(`${type}s-from`) ?? 0);
    for (let i = from; i < from + count; i++) {
      const columns = sampleColumns(samplePerson(i), type);
      for (const column of blank) delete columns[column];
      sandbox.create(type, columns);
    }
  }
  process.stdout.write(`${JSON.stringify({ url: started.url, config: sandboxConfig(started) })}\n`);
  const stop = () => void started.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
