#!/usr/bin/env node
/**
 * Runs the sandbox in its own process (benchmarks, demos):
 * `node connectors/dynamics/sandbox/dist/src/cli.js --port 0 [--seed] [--extras] [--instance-id ID]
 *   [--host 127.0.0.1] [--contacts N [--contacts-from I]] [--leads N [--leads-from I]] [--blank col1,col2]`.
 * `--extras` adds what a vanilla org lacks (Marketo's `mkt_leadscore`); `--contacts`/`--leads` add that many sample
 * people (`samplePerson(I..)`) as contacts/leads; `--blank` leaves those columns empty in them (people whose
 * Dynamics record lacks what Marketo knows).
 * Prints one JSON line `{ url, env, caPem, instanceId }`: the connection's variables, as an operator sets them.
 */
import { samplePerson } from '@tandem/core/testing';
import { DataverseSandbox } from './server';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const sandbox = new DataverseSandbox({
    host: arg('host') ?? '127.0.0.1',
    port: Number(arg('port') ?? 0),
    seed: process.argv.includes('--seed'),
    extras: process.argv.includes('--extras'),
    instanceId: arg('instance-id'),
  });
  const started = await sandbox.start();
  const blank = (arg('blank') ?? '').split(',').filter(Boolean);
  for (const type of ['contact', 'lead'] as const) {
    const count = Number(arg(`${type}s`) ?? 0);
    const from = Number(arg(`${type}s-from`) ?? 0);
    for (let i = from; i < from + count; i++) {
      const columns = sandbox.sampleColumns(samplePerson(i), type);
      for (const column of blank) delete columns[column];
      sandbox.create(type, columns);
    }
  }
  const { url, env, caPem, instanceId } = started;
  process.stdout.write(`${JSON.stringify({ url, env, caPem, instanceId })}\n`);
  const stop = () => void started.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
