/**
 * Runs one Tandem instance from the environment (CONTRACT.md) until SIGINT/SIGTERM, then shuts down in reverse
 * order of start-up (close-with-grace gives it 10 s) and exits 0: `npm start` and `tandem start`.
 *
 * Exit codes are for supervisors that restart on failure: 0 only after a requested shutdown; 1 when start-up
 * fails, when shutting down takes longer than 10 s, and after an error nothing handled (an uncaught
 * exception or unhandled rejection is a bug: the process cannot know what state it is in). A MongoDB outage
 * is none of these: runs fail, `/ready` says so, and the schedule tries again.
 */
import closeWithGrace from 'close-with-grace';
import { isTandemError } from '../plugin';
import { startTandem } from '../app';
import { rootLogger } from '../observability';

const SHUTDOWN_GRACE_MS = 10_000;

async function run(bootLogger: ReturnType<typeof rootLogger>): Promise<void> {
  const starting = startTandem();
  // Signals are handled from the first moment: a SIGTERM during start-up (a cycle may already run) waits for
  // start-up, then shuts down like any other, instead of killing the process mid-write.
  const grace = closeWithGrace({ delay: SHUTDOWN_GRACE_MS, logger: bootLogger }, async ({ signal, err }) => {
    if (err) {
      // Set first: whatever ends the process from here on (even a bare process.exit()) reports the failure.
      process.exitCode = 1;
      bootLogger.fatal({ err }, 'shutting down after an error nothing handled');
    } else bootLogger.info({ signal }, 'shutting down');
    const tandem = await starting.catch(() => undefined);
    await tandem?.close();
  });
  let tandem: Awaited<typeof starting>;
  try {
    tandem = await starting;
  } catch (error) {
    // close-with-grace would end an emptied event loop with exit code 0 ('beforeExit'): a failed start is 1.
    grace.uninstall();
    throw error;
  }
  if (tandem.config.tokenGenerated) {
    // Printed once, on stdout, outside the structured log: this is the only way to learn a generated token.
    process.stdout.write(`\nAdmin API token (generated; set TANDEM_API_TOKEN to choose one):\n  ${tandem.token}\n\n`);
  }
}

/** Starts the server; resolves once it listens (the process then lives until a signal ends it). */
export async function serve(): Promise<void> {
  // At info whatever LOG_LEVEL says: why start-up failed must always be told.
  const bootLogger = rootLogger('info');
  try {
    await run(bootLogger);
  } catch (error) {
    process.exitCode = 1;
    // Configuration and plugin errors are for operators: their message names the variable or the package.
    if (isTandemError(error) && (error.code === 'BAD_CONFIG' || error.code === 'PLUGIN_LOAD_FAILED')) {
      bootLogger.fatal({ code: error.code }, error.message);
    } else {
      bootLogger.fatal({ err: error }, 'Tandem failed to start');
    }
  }
}
