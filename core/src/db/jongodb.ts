/**
 * jongodb: a MongoDB wire-protocol server shipped as a native binary on npm. It keeps data in memory, so
 * it is the fallback of last resort for running, and the server our tests run against.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

export interface ChildServer {
  uri: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const PACKAGE = '@jongodb/memory-server-bin-linux-x64-gnu';

/** Path of the jongodb binary, or undefined where the package is not installed (other platforms). */
export function jongodbBinary(): string | undefined {
  try {
    return join(dirname(require.resolve(`${PACKAGE}/package.json`)), 'bin', 'jongodb');
  } catch {
    return undefined;
  }
}

/** Ends a child process and waits for it; SIGKILL if it ignores SIGTERM for 5 s. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts jongodb on a free loopback port and resolves once it prints its URI. */
export function startJongodb(timeoutMs = 30_000): Promise<ChildServer> {
  const binary = jongodbBinary();
  if (!binary) return Promise.reject(new Error(`${PACKAGE} is not installed`));
  const child = spawn(binary, ['--host=127.0.0.1', '--port=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise<ChildServer>((resolve, reject) => {
    let stderr = '';
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new Error(`jongodb did not start within ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`jongodb exited with code ${code} before it was ready: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^JONGODB_URI=(\S+)/.exec(line.trim());
      if (!match?.[1]) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      // Keep draining both pipes so a chatty server never blocks on a full pipe.
      child.stdout?.resume();
      resolve({ uri: match[1], process: child, stop: () => stopChild(child) });
    });
  });
}
