/**
 * The engine's vocabulary. A pipeline has two sides, `left` and `right` (its connections in the order its
 * definition lists them); the engine knows a side only through its connection id and its `Connector`. Nothing
 * here names a system: what is particular to one is declared by its connector or configured on the pipeline.
 */
import type { Connector } from '../plugin';

export type SideKey = 'left' | 'right';
export const SIDE_KEYS: readonly SideKey[] = ['left', 'right'];

export function otherSide(side: SideKey): SideKey {
  return side === 'left' ? 'right' : 'left';
}

/** Something per side: `{ left, right }`. */
export type PerSide<T> = Record<SideKey, T>;

/**
 * What happens to a link when this side's record is deleted. `unlink`: the link is marked deleted, the other
 * side keeps its record (flagged where a deleted-flag field is mapped) and no cycle creates it here again (a
 * push can). `recreate`: the next change on the other side creates the record here again, as a new one.
 */
export type DeleteRule = 'unlink' | 'recreate';

/** One side of a pipeline, as a cycle uses it. */
export interface PipelineSide {
  key: SideKey;
  /** The connection id (also what the pipeline's mappings, cursors and policies call this side). */
  connection: string;
  connector: Connector;
  /** How people and messages name the system (`Marketo`, `Dynamics`): the connector's label, else the id. */
  label: string;
  /** The object types that take part, in matching order: a new person is matched against them in turn. */
  objects: readonly string[];
  /** What a record from the other side becomes here when nobody matches (required with several objects). */
  newRecordsAs?: string;
  deletes: DeleteRule;
}

export type RunCountName =
  'read' | 'created' | 'updated' | 'unchanged' | 'conflicts' | 'rejected' | 'failed' | 'deleted';
export type Counts = Partial<Record<RunCountName, number>>;

/** Adds `more` into `into`, in place (the run's running totals). */
export function addCounts(into: Record<string, number>, more: Counts): void {
  for (const [name, n] of Object.entries(more)) if (n) into[name] = (into[name] ?? 0) + n;
}

/** Counting helper for stages: `tally.add('unchanged')`, then `tally.counts`. */
export class Tally {
  readonly counts: Counts = {};
  add(name: RunCountName, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }
}
