#!/usr/bin/env node
/**
 * Starts the sandbox standalone (benchmarks run it in a separate process):
 *   tandem-sandbox-marketo --port 0 [--host 127.0.0.1] [--seed] [--people N] [--extras] [--https]
 * Prints one JSON line, the running sandbox `{url, env, instanceId, caPem?}`, on stdout and runs until SIGINT or
 * SIGTERM. `--extras` adds what a vanilla instance lacks (the Dynamics sync's person fields, a custom field).
 */
import { parseArgs } from 'node:util';
import { MarketoSandbox } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'boolean', default: false },
      people: { type: 'string' },
      extras: { type: 'boolean', default: false },
      https: { type: 'boolean', default: false },
    },
  });
  const people = values.people === undefined ? undefined : Number(values.people);
  const sandbox = new MarketoSandbox({ extras: values.extras });
  const running = await sandbox.start({
    host: values.host,
    port: Number(values.port),
    // --people implies seeding that many people.
    seed: values.seed || people !== undefined,
    ...(people === undefined ? {} : { people }),
    ...(values.https ? { https: true as const } : {}),
  });
  const { close, ...info } = running;
  process.stdout.write(`${JSON.stringify(info)}\n`);
  const stop = () => void close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
