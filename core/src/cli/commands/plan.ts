/**
 * `tandem plan <pipeline>`: the dry run. What the next cycle would create, update, link, delete and reject, per
 * person and field, with nothing written (`GET /v1/pipelines/:id/plan`); `--json` prints the API's answer.
 */
import type { PlannedChange, PlanView } from '../api-types';
import type { TandemClient } from '../client';
import { num, shown, table, type Output } from '../output';
import { oneLine } from './status';

const MARK: Record<PlannedChange['action'], string> = { create: '+', update: '~', link: '=', delete: '-' };

export async function plan(
  client: TandemClient,
  output: Output,
  pipeline: string,
  options: { json?: boolean; limit?: number },
): Promise<number> {
  const answer = await client.get<PlanView>(`/v1/pipelines/${encodeURIComponent(pipeline)}/plan`);
  if (options.json) {
    output.out(JSON.stringify(answer, null, 2));
    return 0;
  }
  const { c } = output;
  const n = answer.counts;
  const actions = (kind: PlannedChange['action']) => answer.changes.filter((ch) => ch.action === kind).length;
  output.out(
    `${c.bold(`Plan for ${pipeline}`)}: the next cycle would create ${num(n['created'])}, update ${num(n['updated'])}, link ${num(actions('link'))}, delete ${num(actions('delete'))} and reject ${num(n['rejected'])}`,
  );
  output.out(
    c.dim(
      `  (read ${num(n['read'])}, unchanged ${num(n['unchanged'])}, conflicts ${num(n['conflicts'])}; nothing was written)`,
    ),
  );
  const limit = options.limit ?? 200;
  if (answer.changes.length === 0) output.out('\nNothing to change.');
  for (const change of answer.changes.slice(0, limit)) {
    output.out();
    output.out(headline(output, change));
    // `from` absent: the field has no value yet (a create); `null` is a real blank.
    const rows = Object.entries(change.fields ?? {}).map(([field, value]) => [
      `      ${field}`,
      'from' in value ? `${shown(value.from)} → ${shown(value.to)}` : `→ ${shown(value.to)}`,
    ]);
    for (const line of table(rows)) output.out(line);
    for (const collision of change.collisions ?? [])
      output.out(c.yellow(`      collision on ${collision.field}: ${collision.winner} wins`));
  }
  if (answer.changes.length > limit)
    output.out(c.dim(`\n… and ${num(answer.changes.length - limit)} more (--limit, or --json for all)`));
  for (const warning of answer.warnings) output.out(c.yellow(`warning: ${oneLine(warning, 500)}`));
  return 0;
}

function headline(output: Output, change: PlannedChange): string {
  const { c } = output;
  const colour = { create: c.green, update: c.cyan, link: c.blue, delete: c.red }[change.action];
  const records = Object.entries(change.records)
    .map(([connection, r]) => `${connection} ${r.type} ${r.id ?? c.dim('(new)')}`)
    .join(' ↔ ');
  const where = change.connection ? ` in ${change.connection}${change.objectType ? ` ${change.objectType}` : ''}` : '';
  return `${colour(`${MARK[change.action]} ${change.action}${where}`)}  ${change.email ?? c.dim('(no email)')}  ${c.dim(records)}`;
}
