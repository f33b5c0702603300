/**
 * Tandem as its own process (`node core/dist/src/main.js`), configured only through the environment, for
 * tests of how it lives and ends: outages, signals, exit codes. Its log (JSON lines) is kept for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const MAIN = resolve(__dirname, '../../../core/dist/src/main.js');

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class TandemProcess {
  readonly child: ChildProcess;
  private text = '';
  /** Set once the process has ended. */
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;

  constructor(
    env: Record<string, string>,
    readonly url: string,
  ) {
    this.child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (d: Buffer) => (this.text += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.text += d.toString()));
    this.exited = new Promise((ok) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        ok(this.exit);
      }),
    );
  }

  /** Starts main.js listening on a free port with `env`. */
  static async start(env: Record<string, string>): Promise<TandemProcess> {
    const port = await freePort();
    return new TandemProcess({ ...env, PORT: String(port), HOST: '127.0.0.1' }, `http://127.0.0.1:${port}`);
  }

  output(): string {
    return this.text;
  }

  /** The JSON log lines so far. */
  log(): Array<Record<string, unknown>> {
    return this.text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** Kills it for good (test clean-up). */
  async kill(): Promise<void> {
    if (this.exit) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Polls `check` until it holds; fails naming `what` (and the process's last output) after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
  tandem?: TandemProcess,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const tail = tandem ? `\n--- tandem output ---\n${tandem.output().slice(-4000)}` : '';
  throw new Error(`timed out waiting for ${what}${tail}`);
}
