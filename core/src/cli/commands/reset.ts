/**
 * `tandem reset <pipeline> --yes`: starts a pipeline over (forgets its links, snapshots and cursors; its next cycle
 * is an initial sync). Without `--yes` it says what it would do and exits 2, changing nothing.
 */
import type { TandemClient } from '../client';
import { CliError, EXIT } from '../errors';
import { num, type Output } from '../output';

export async function reset(
  client: TandemClient,
  output: Output,
  pipeline: string,
  options: { yes?: boolean; json?: boolean },
): Promise<number> {
  if (!options.yes) {
    throw new CliError(
      `Resetting ${pipeline} forgets all its links, snapshots and cursors: its next cycle is an initial sync, matching everyone by email again. Nothing was changed; run again with --yes to confirm.`,
      EXIT.USAGE,
    );
  }
  const answer = await client.post<{ pipelineId: string; linksRemoved: number; cursorsRemoved: number }>(
    `/v1/pipelines/${encodeURIComponent(pipeline)}/reset`,
  );
  if (options.json) output.out(JSON.stringify(answer, null, 2));
  else
    output.out(
      `Reset ${answer.pipelineId}: ${num(answer.linksRemoved)} link(s) and ${num(answer.cursorsRemoved)} cursor(s) removed; its next cycle is an initial sync.`,
    );
  return EXIT.OK;
}
