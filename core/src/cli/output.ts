/**
 * How the CLI writes: colours (picocolors: on for a terminal, off in pipes and under NO_COLOR, forced by
 * FORCE_COLOR), numbers, times and small aligned tables. Each command writes through an `Output` so that
 * tests and `--json` see plain text.
 */
import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

export interface Output {
  out(line?: string): void;
  err(line?: string): void;
  /** Whether stdout is a terminal (live redrawing, progress bars). */
  readonly interactive: boolean;
  readonly c: Colors;
}

export function processOutput(): Output {
  return {
    out: (line = '') => void process.stdout.write(`${line}\n`),
    err: (line = '') => void process.stderr.write(`${line}\n`),
    interactive: process.stdout.isTTY === true,
    c: pc.createColors(pc.isColorSupported),
  };
}

const NUMBER = new Intl.NumberFormat('en-US');
export const num = (n: number | undefined): string => NUMBER.format(n ?? 0);

/** "3 min ago", "in 12 s", from `iso` against `now`. */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const text =
    abs < 1000
      ? 'now'
      : abs < 60_000
        ? `${Math.round(abs / 1000)} s`
        : abs < 3_600_000
          ? `${Math.round(abs / 60_000)} min`
          : abs < 86_400_000
            ? `${Math.round(abs / 3_600_000)} h`
            : `${Math.round(abs / 86_400_000)} d`;
  if (text === 'now') return text;
  return ms < 0 ? `${text} ago` : `in ${text}`;
}

/** Local time of day (or date and time when not today), for a person reading a terminal. */
export function clock(iso: string | null | undefined): string {
  if (!iso) return '-';
  const at = new Date(iso);
  const sameDay = at.toDateString() === new Date().toDateString();
  return sameDay ? at.toLocaleTimeString('en-GB') : at.toLocaleString('en-GB');
}

/** Rows aligned in columns (the last column is never padded). */
export function table(rows: readonly string[][], gap = '  '): string[] {
  const width = (s: string) => stripAnsi(s).length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell))))
      .join(gap)
      .trimEnd(),
  );
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

/** A value as JSON would show it, shortened for one line. */
export function shown(value: unknown, max = 60): string {
  const text = value === undefined ? '(unset)' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The counts a run or a plan reports, in a stable order, zeros left out unless all are. */
export function countsLine(counts: Record<string, number> | undefined, order = COUNT_ORDER): string {
  const entries = Object.entries(counts ?? {});
  const sorted = [
    ...order.filter((k) => counts?.[k] !== undefined).map((k) => [k, counts?.[k] ?? 0] as const),
    ...entries.filter(([k]) => !order.includes(k)).sort(([a], [b]) => a.localeCompare(b)),
  ];
  const shownEntries = sorted.filter(([, n]) => n > 0);
  return (shownEntries.length > 0 ? shownEntries : sorted.slice(0, 1)).map(([k, n]) => `${k} ${num(n)}`).join(', ');
}

export const COUNT_ORDER = ['read', 'created', 'updated', 'unchanged', 'conflicts', 'rejected', 'failed', 'deleted'];
