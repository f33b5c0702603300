/**
 * Tandem as its own process (`node core/dist/src/main.js`, the e2e tests' `TandemProcess`), configured only
 * through the environment as a real deployment is, and what the suite asks of it: its REST API, forced cycles
 * followed through MongoDB (the suite's own client, so that polling costs Tandem no commands), and its end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TandemProcess, until } from '@tandem/e2e/dist/src/tandem-process';
import { API_TOKEN, type RunRecord, type Systems } from './system';

export interface ApiAnswer<T> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** Records a cycle wrote (created, updated, deleted): a cycle that writes none is quiet. */
export const written = (run: Pick<RunRecord, 'counts'>) =>
  (run.counts['created'] ?? 0) + (run.counts['updated'] ?? 0) + (run.counts['deleted'] ?? 0);

export const quiet = (run: RunRecord) =>
  run.status === 'succeeded' && written(run) === 0 && (run.counts['failed'] ?? 0) === 0;

export class Tandem {
  private constructor(
    readonly process: TandemProcess,
    private readonly systems: Systems,
  ) {}

  /** Starts a process with `env` and waits until its API answers `/health`. */
  static async start(systems: Systems, env: Record<string, string>, timeoutMs = 60_000): Promise<Tandem> {
    const tandem = new Tandem(await TandemProcess.start(env), systems);
    await until(
      async () => (await fetch(`${tandem.url}/health`)).ok,
      'Tandem to answer /health',
      timeoutMs,
      tandem.process,
    );
    return tandem;
  }

  get url(): string {
    return this.process.url;
  }

  get pid(): number {
    return this.process.child.pid ?? 0;
  }

  async api<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<ApiAnswer<T>> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${API_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  /**
   * Forces a cycle of the default pipeline and answers its run id; a 409 (another cycle holds the lease, such as
   * a dead instance's until it lapses) is asked again until `timeoutMs`. `beforeAttempt` runs before each ask
   * (to count what the accepted one costs, not the refused ones).
   */
  async force(timeoutMs = 120_000, beforeAttempt?: () => Promise<void>): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      await beforeAttempt?.();
      const answer = await this.api<{ runId?: string }>('POST', '/v1/pipelines/default/runs');
      if (answer.status === 202 && answer.body.runId) return answer.body.runId;
      if (answer.status !== 409 || Date.now() > end) {
        throw new Error(`forcing a cycle answered ${answer.status}: ${answer.text.slice(0, 300)}`);
      }
      await sleep(100);
    }
  }

  /** Forces a cycle and waits for its end. */
  async cycle(timeoutMs = 300_000): Promise<RunRecord> {
    return this.systems.waitForRun(await this.force(), timeoutMs, this.process);
  }

  /** Forced cycles until one writes nothing (at most `max`): every run. */
  async settle(max = 10, timeoutMs = 300_000): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    for (let i = 0; i < max; i++) {
      const run = await this.cycle(timeoutMs);
      runs.push(run);
      if (quiet(run)) break;
    }
    return runs;
  }

  /** Pauses or resumes the default pipeline's schedule (a cycle already running goes on). */
  async pause(paused: boolean): Promise<void> {
    const answer = await this.api('PATCH', '/v1/pipelines/default', { paused });
    if (answer.status !== 200) throw new Error(`pausing answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  }

  /** SIGKILL, and the end of the process. */
  async kill(): Promise<void> {
    await this.process.kill();
  }

  /** SIGTERM and its exit (code or signal), and how long it took. */
  async terminate(): Promise<{ code: number | null; signal: string | null; ms: number }> {
    const at = Date.now();
    this.process.child.kill('SIGTERM');
    const exit = await this.process.exited;
    return { ...exit, ms: Date.now() - at };
  }

  output(): string {
    return this.process.output();
  }
}
