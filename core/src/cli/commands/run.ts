/**
 * `tandem run <pipeline> [--follow]`: forces a cycle. With `--follow` it shows the run live (records read and
 * written per connection, a bar where the total is known, what the cycle is doing) until it ends, then its result;
 * the exit code is 0 when it succeeded and 1 otherwise. A cycle already running (409) is followed instead.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { RunView } from '../api-types';
import { ApiError, type TandemClient } from '../client';
import { CliError, EXIT } from '../errors';
import { countsLine, num, type Output } from '../output';
import { oneLine, statusWord } from './status';

export interface RunOptions {
  follow?: boolean;
  /** Milliseconds between two looks at the run. */
  poll?: number;
  json?: boolean;
}

const ENDED = (status: string) => status !== 'running' && status !== 'queued';

export async function run(
  client: TandemClient,
  output: Output,
  pipeline: string,
  options: RunOptions,
): Promise<number> {
  let runId: string;
  try {
    ({ runId } = await client.post<{ runId: string }>(`/v1/pipelines/${encodeURIComponent(pipeline)}/runs`));
    if (!options.json) output.err(`Started run ${runId} of ${pipeline}.`);
  } catch (error) {
    const running = error instanceof ApiError && error.status === 409 ? error.problem.runId : undefined;
    if (!running) throw error;
    if (!options.follow) {
      throw new CliError(`A cycle of ${pipeline} is already running (run ${running}); follow it with --follow.`);
    }
    runId = running;
    if (!options.json) output.err(`A cycle of ${pipeline} is already running (run ${runId}): following it.`);
  }
  if (!options.follow) {
    if (options.json) output.out(JSON.stringify({ runId }));
    return EXIT.OK;
  }
  const final = await follow(client, output, runId, options);
  if (options.json) output.out(JSON.stringify(final, null, 2));
  else summary(output, final);
  return final.status === 'succeeded' ? EXIT.OK : EXIT.FAILED;
}

/** Polls the run until it ends, showing its progress; answers it as it ended. */
async function follow(client: TandemClient, output: Output, runId: string, options: RunOptions): Promise<RunView> {
  const view = options.json ? undefined : output.interactive ? new LiveBars(output) : new ProgressLines(output);
  const poll = options.poll ?? 500;
  try {
    for (;;) {
      const current = await client.get<RunView>(`/v1/runs/${encodeURIComponent(runId)}`);
      view?.update(current);
      if (ENDED(current.status)) return current;
      await new Promise((resolve) => setTimeout(resolve, poll));
    }
  } finally {
    view?.stop();
  }
}

function sideText(name: string, side: { read: number; written: number; total?: number }): string {
  return `${name}: read ${num(side.read)}${side.total ? ` of ${num(side.total)}` : ''}, written ${num(side.written)}`;
}

/** For a pipe or a log file: one line each time the figures change. */
class ProgressLines {
  private last = '';

  constructor(private readonly output: Output) {}

  update(run: RunView): void {
    const sides = Object.entries(run.sides ?? {}).map(([name, side]) => sideText(name, side));
    const line = [sides.join(' · ') || run.status, run.progress].filter(Boolean).join(' — ');
    if (line === this.last || ENDED(run.status)) return;
    this.last = line;
    this.output.err(line);
  }

  stop(): void {}
}

/** For a terminal: a line per connection, redrawn in place, with a bar where the connector says the total. */
class LiveBars {
  private readonly bars = new MultiBar(
    { clearOnComplete: false, hideCursor: true, forceRedraw: true, stream: process.stderr, barsize: 24 },
    { ...Presets.shades_classic, format: ' {name} {bar} {value}/{total} read, {written} written' },
  );
  private readonly lines = new Map<string, SingleBar>();
  private status: SingleBar | undefined;

  constructor(private readonly output: Output) {}

  update(run: RunView): void {
    for (const [name, side] of Object.entries(run.sides ?? {})) {
      const payload = { name: this.output.c.bold(name.padEnd(12)), written: num(side.written) };
      let bar = this.lines.get(name);
      if (!bar) {
        // Without a total there is nothing to draw a bar against: the figures alone.
        const format = side.total ? undefined : ' {name} {value} read, {written} written';
        bar = this.bars.create(side.total ?? 0, 0, payload, format ? { format } : {});
        this.lines.set(name, bar);
      }
      if (side.total) bar.setTotal(side.total);
      bar.update(side.read, payload);
    }
    const text = run.progress ? oneLine(run.progress, 100) : run.status;
    if (!this.status) this.status = this.bars.create(0, 0, { text }, { format: ' {text}' });
    else this.status.update(0, { text });
  }

  stop(): void {
    this.bars.stop();
  }
}

function summary(output: Output, run: RunView): void {
  const { c } = output;
  const seconds =
    run.startedAt && run.finishedAt
      ? ` in ${((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)} s`
      : '';
  output.out(`Run ${run.id} ${statusWord(output, run.status)}${seconds}: ${countsLine(run.counts)}`);
  for (const [name, side] of Object.entries(run.sides ?? {})) output.out(`  ${sideText(name, side)}`);
  for (const warning of run.warnings ?? []) output.out(c.yellow(`  warning: ${oneLine(warning)}`));
  if (run.error) output.out(c.red(`  error: ${oneLine(run.error, 2000)}`));
}
