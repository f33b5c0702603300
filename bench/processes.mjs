/**
 * What both benchmark scripts (`run.mjs`, `layers.mjs`) need around the process they measure: the helpers it
 * talks to, each in a process of its own so that their CPU is not counted, and the CPU of its main thread.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Starts a sandbox CLI as a separate process and resolves with the JSON line it prints. */
export function startSandbox(cli, args) {
  return startHelper(cli, ['--port', '0', ...args]);
}

/** Starts a helper script (a sandbox CLI, the MongoDB command counter) and resolves with the JSON line it prints. */
export function startHelper(script, args) {
  const child = spawn(process.execPath, [join(root, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve({ info: JSON.parse(line), child }));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  }).then(({ info, child: started }) => {
    started.removeAllListeners('exit');
    return {
      info,
      stop: () =>
        new Promise((resolve) => {
          if (started.exitCode !== null) return resolve();
          started.once('exit', () => resolve());
          started.kill('SIGTERM');
        }),
    };
  });
}

/**
 * CPU time of this process's main thread (where JavaScript runs), in µs; the rest of the process's CPU is
 * V8's helper threads (background compilation, concurrent and parallel GC) and libuv's. Linux only.
 */
export function mainThreadCpuMicros() {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
  } catch {
    return undefined;
  }
}
