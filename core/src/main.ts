#!/usr/bin/env node
/**
 * `npm start`: runs one Tandem instance from the environment (CONTRACT.md) until SIGINT/SIGTERM, then
 * shuts down in reverse order of start-up (close-with-grace gives it 10 s).
 */
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { isTandemError } from './plugin';
import { startTandem } from './app';

const bootLogger = pino({ base: { service: 'tandem' } });

async function main(): Promise<void> {
  const tandem = await startTandem();
  if (tandem.config.tokenGenerated) {
    // Printed once, on stdout, outside the structured log: this is the only way to learn a generated token.
    process.stdout.write(`\nAdmin API token (generated; set TANDEM_API_TOKEN to choose one):\n  ${tandem.token}\n\n`);
  }
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) bootLogger.error({ err }, 'shutting down after an error');
    else bootLogger.info({ signal }, 'shutting down');
    await tandem.close();
  });
}

main().catch((error: unknown) => {
  // Configuration and plugin errors are for operators: their message names the variable or the package.
  if (isTandemError(error) && (error.code === 'BAD_CONFIG' || error.code === 'PLUGIN_LOAD_FAILED')) {
    bootLogger.fatal({ code: error.code }, error.message);
  } else {
    bootLogger.fatal({ err: error }, 'Tandem failed to start');
  }
  process.exitCode = 1;
});
