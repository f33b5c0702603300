/**
 * What a scenario reports: its figures, each with the target it must meet (or none: a figure that only informs),
 * and the table the runner prints from them.
 */
import { cpus, totalmem, platform, release } from 'node:os';

export type FigureValue = number | string | boolean | null | readonly number[];

export interface Figure {
  name: string;
  value: FigureValue;
  /** What the figure must be, in words (`0`, `10 of 10`, `< 10 s`); absent for a figure that only informs. */
  target?: string;
  /** Whether it is: absent when there is no target. */
  holds?: boolean;
}

export interface ScenarioReport {
  scenario: string;
  /** What was done, in a line (people, trials, seed). */
  setup: string;
  seconds: number;
  figures: Figure[];
  /** Anything else worth keeping in results.json (per-trial figures, examples of what went wrong). */
  detail?: unknown;
  /** The scenario could not run to its end. */
  error?: string;
  /** When its figures were measured (kept from an earlier run by `--only`). */
  date?: string;
}

export interface Context {
  /** The CI version: fewer trials, fewer requests. */
  short: boolean;
  /** The suite's seed; each scenario derives its own from it. */
  seed: number;
  log(text: string): void;
}

export interface Scenario {
  name: string;
  run(context: Context): Promise<Omit<ScenarioReport, 'scenario' | 'seconds'>>;
}

/** A figure that must meet `target`; `holds` says whether it does. */
export function must(name: string, value: FigureValue, target: string, holds: boolean): Figure {
  return { name, value, target, holds };
}

/** A figure that must be 0. */
export function zero(name: string, value: number): Figure {
  return must(name, value, '0', value === 0);
}

/** A figure that only informs. */
export function info(name: string, value: FigureValue): Figure {
  return { name, value };
}

export function failed(report: ScenarioReport): boolean {
  return report.error !== undefined || report.figures.some((f) => f.holds === false);
}

/** The machine, as the README names it. */
export function machine(): string {
  const cpu = cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  const gb = (totalmem() / 1024 ** 3).toFixed(1);
  return `${cpu}, ${cpus().length} cores, ${gb} GB, Node ${process.versions.node}, ${platform()} ${release()}`;
}

/** A value as the table shows it: long ones cut (results.json has them whole). */
function show(value: FigureValue): string {
  const text = Array.isArray(value) ? value.join(', ') : value === null ? '—' : String(value);
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

/** A Markdown table: scenario, figure, value, target, whether it holds. */
export function table(reports: readonly ScenarioReport[]): string {
  const rows: string[][] = [['scenario', 'figure', 'value', 'target', 'holds']];
  for (const report of reports) {
    const figures: Figure[] = report.error
      ? [...report.figures, must('error', report.error, 'none', false)]
      : report.figures;
    figures.forEach((f, i) =>
      rows.push([
        i === 0 ? report.scenario : '',
        f.name,
        show(f.value),
        f.target ?? '',
        f.holds === undefined ? '' : f.holds ? 'yes' : '**no**',
      ]),
    );
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows;
  return [line(head ?? []), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body.map(line)].join('\n');
}
