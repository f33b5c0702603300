/**
 * Starts the sandbox standalone (benchmarks run it in a separate process):
 *   node connectors/marketo/dist/src/sandbox/cli.js --port 0 [--host 127.0.0.1] [--seed] [--people N]
 * Prints one JSON line `{url, clientId, clientSecret}` on stdout and runs until SIGINT/SIGTERM.
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
    },
  });
  const people = values.people === undefined ? undefined : Number(values.people);
  const sandbox = new MarketoSandbox();
  const running = await sandbox.start({
    host: values.host,
    port: Number(values.port),
    // --people implies seeding that many people.
    seed: values.seed || people !== undefined,
    ...(people === undefined ? {} : { people }),
  });
  process.stdout.write(
    `${JSON.stringify({ url: running.url, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret })}\n`,
  );
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
