#!/usr/bin/env node
/**
 * Runs the sandbox org in its own process (benchmarks, demos):
 * `tandem-sandbox-salesforce [--port 0] [--host 127.0.0.1] [--seed] [--extras] [--org-id 00D…]
 *   [--contacts N [--contacts-from I]] [--leads N [--leads-from I]]`.
 * `--contacts`/`--leads` add that many sample people (`samplePerson(I..)`) as Contacts/Leads.
 * Prints one JSON line `{ url, env, caPem, instanceId }`; control routes are under `<url>/__sandbox/`.
 */
import { samplePerson } from '@tandem/core/testing';
import { startSalesforceSandbox } from './index';
import { sampleFields } from './seed';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const instanceId = arg('org-id');
  const running = await startSalesforceSandbox({
    host: arg('host') ?? '127.0.0.1',
    port: Number(arg('port') ?? 0),
    seed: process.argv.includes('--seed'),
    extras: process.argv.includes('--extras'),
    ...(instanceId ? { instanceId } : {}),
  });
  for (const type of ['Contact', 'Lead'] as const) {
    const flag = type === 'Contact' ? 'contacts' : 'leads';
    const count = Number(arg(flag) ?? 0);
    const from = Number(arg(`${flag}-from`) ?? 0);
    for (let i = from; i < from + count; i++) running.sandbox.createRecord(type, sampleFields(samplePerson(i), type));
  }
  const { url, env, caPem, instanceId: orgId } = running;
  process.stdout.write(`${JSON.stringify({ url, env, caPem, instanceId: orgId })}\n`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
