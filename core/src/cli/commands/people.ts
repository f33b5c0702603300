/**
 * `tandem links <email>` and `tandem activity <email>`: one person's records on both sides, and what the sync did
 * to them, newest first. Both exit 1 when nothing is found, so scripts can tell.
 */
import type { ActivityView, LinkView } from '../api-types';
import type { TandemClient } from '../client';
import { EXIT } from '../errors';
import { clock, table, type Output } from '../output';

interface PersonOptions {
  pipeline: string;
  json?: boolean;
  limit?: number;
}

const records = (ids: Record<string, string | null> = {}, objects: Record<string, string> = {}) =>
  Object.entries(ids)
    .map(([connection, id]) => `${connection} ${objects[connection] ?? ''} ${id ?? '(none)'}`.replace(/\s+/g, ' '))
    .join(' ↔ ');

export async function links(
  client: TandemClient,
  output: Output,
  email: string,
  options: PersonOptions,
): Promise<number> {
  const found = await client.get<LinkView[]>(
    `/v1/pipelines/${encodeURIComponent(options.pipeline)}/links?email=${encodeURIComponent(email)}`,
  );
  if (options.json) output.out(JSON.stringify(found, null, 2));
  else if (found.length === 0) output.out(`No link for ${email} in ${options.pipeline}.`);
  else {
    const { c } = output;
    const rows = found.map((l) => [
      l.state === 'linked' ? c.green(l.state) : c.yellow(l.state),
      l.email ?? '',
      records(l.ids, l.objects),
      c.dim(`updated ${clock(l.updatedAt)}`),
    ]);
    for (const line of table(rows)) output.out(line);
  }
  return found.length > 0 ? EXIT.OK : EXIT.FAILED;
}

export async function activity(
  client: TandemClient,
  output: Output,
  email: string,
  options: PersonOptions,
): Promise<number> {
  const entries = await client.get<ActivityView[]>(
    `/v1/pipelines/${encodeURIComponent(options.pipeline)}/activity?email=${encodeURIComponent(email)}&limit=${options.limit ?? 50}`,
  );
  if (options.json) output.out(JSON.stringify(entries, null, 2));
  else if (entries.length === 0) output.out(`No activity for ${email} in ${options.pipeline}.`);
  else {
    const { c } = output;
    const bad = new Set(['rejected', 'failed', 'conflict']);
    const rows = entries.map((e) => [
      c.dim(clock(e.at)),
      bad.has(e.type) ? c.red(e.type) : e.type,
      e.connection ?? '',
      `${e.detail}${e.code ? c.dim(` [${e.code}]`) : ''}`,
    ]);
    for (const line of table(rows)) output.out(line);
  }
  return entries.length > 0 ? EXIT.OK : EXIT.FAILED;
}
