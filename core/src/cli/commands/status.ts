/**
 * `tandem status`: every pipeline's state, its last run with counts, its next run, and what went wrong since its
 * last successful run (runs that failed or were partial, records rejected or failed).
 */
import type { PipelineView, RunView } from '../api-types';
import type { TandemClient } from '../client';
import { clock, countsLine, num, relative, table, type Output } from '../output';

/** Runs looked at for "since the last success". */
const HISTORY = 100;

export interface PipelineStatus {
  id: string;
  name: string;
  connections: string[];
  state: 'running' | 'paused' | 'idle' | 'unavailable';
  running?: string;
  message?: string;
  lastRun: RunView | null;
  nextRunAt: string | null;
  /** From the last successful run (included) on. */
  sinceLastSuccess: {
    lastSuccessAt: string | null;
    /** Runs that ended failed, partial or interrupted since. */
    unsuccessfulRuns: number;
    rejected: number;
    failed: number;
    lastError?: string;
  };
}

export async function pipelineStatus(client: TandemClient, pipeline: PipelineView): Promise<PipelineStatus> {
  const runs = await client.get<RunView[]>(`/v1/pipelines/${encodeURIComponent(pipeline.id)}/runs?limit=${HISTORY}`);
  const lastSuccess = runs.findIndex((r) => r.status === 'succeeded');
  const since = lastSuccess === -1 ? runs : runs.slice(0, lastSuccess + 1);
  const ended = since.filter((r) => r.status !== 'running' && r.status !== 'queued');
  const running = pipeline.state.running ?? runs.find((r) => r.status === 'running')?.id;
  const lastError = ended.find((r) => r.error)?.error;
  return {
    id: pipeline.id,
    name: pipeline.name,
    connections: Object.keys(pipeline.sides),
    state:
      pipeline.state.syncEngine === 'unavailable'
        ? 'unavailable'
        : running
          ? 'running'
          : pipeline.paused
            ? 'paused'
            : 'idle',
    ...(running ? { running } : {}),
    ...(pipeline.state.message ? { message: pipeline.state.message } : {}),
    lastRun: runs.find((r) => r.status !== 'running' && r.status !== 'queued') ?? null,
    nextRunAt: pipeline.state.nextRunAt,
    sinceLastSuccess: {
      lastSuccessAt: lastSuccess === -1 ? null : (runs[lastSuccess]?.finishedAt ?? null),
      unsuccessfulRuns: ended.filter((r) => r.status !== 'succeeded').length,
      rejected: ended.reduce((n, r) => n + (r.counts['rejected'] ?? 0), 0),
      failed: ended.reduce((n, r) => n + (r.counts['failed'] ?? 0), 0),
      ...(lastError ? { lastError } : {}),
    },
  };
}

export async function status(client: TandemClient, output: Output, options: { json?: boolean }): Promise<number> {
  const pipelines = await client.get<PipelineView[]>('/v1/pipelines');
  const statuses = await Promise.all(pipelines.map((p) => pipelineStatus(client, p)));
  if (options.json) {
    output.out(JSON.stringify(statuses, null, 2));
    return 0;
  }
  const { c } = output;
  if (statuses.length === 0) output.out('No pipelines.');
  for (const s of statuses) {
    const state =
      s.state === 'running'
        ? c.cyan(`running (run ${s.running ?? '?'})`)
        : s.state === 'paused'
          ? c.yellow('paused')
          : s.state === 'unavailable'
            ? c.red(`unavailable: ${s.message ?? 'a connection is missing'}`)
            : 'idle';
    const last = s.lastRun;
    const lastLine = last
      ? `${statusWord(output, last.status)} ${relative(last.finishedAt)} (${last.trigger}): ${countsLine(last.counts)}${
          last.error ? c.dim(` — ${oneLine(last.error)}`) : ''
        }`
      : 'none yet';
    const next =
      s.nextRunAt === null
        ? s.state === 'running'
          ? 'after the running one'
          : s.state === 'paused'
            ? 'none while paused'
            : '-'
        : `${relative(s.nextRunAt)} (${clock(s.nextRunAt)})`;
    const since = s.sinceLastSuccess;
    const troubles = since.unsuccessfulRuns + since.rejected + since.failed;
    // Counted from the last successful run on (its own rejections included), or over every run kept.
    const when = since.lastSuccessAt ? `since the last success ${relative(since.lastSuccessAt)}` : undefined;
    const errors =
      troubles === 0
        ? c.green(when ? `none ${when}` : 'none (no run has succeeded yet)')
        : c.red(
            `${when ?? 'no run has succeeded yet'}: ${num(since.unsuccessfulRuns)} run(s) not succeeded, ${num(since.rejected)} rejected, ${num(since.failed)} failed`,
          ) + (since.lastError ? c.dim(`\n${' '.repeat(12)}last error: ${oneLine(since.lastError)}`) : '');
    output.out(`${c.bold(s.id)}  ${c.dim(s.connections.join(' ↔ '))}`);
    for (const line of table([
      ['  state', state],
      ['  last run', lastLine],
      ['  next run', next],
      ['  errors', errors],
    ]))
      output.out(line);
    output.out();
  }
  return 0;
}

export function statusWord(output: Output, status: string): string {
  const { c } = output;
  if (status === 'succeeded') return c.green(status);
  if (status === 'partial' || status === 'interrupted') return c.yellow(status);
  if (status === 'failed') return c.red(status);
  return c.cyan(status);
}

export function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
