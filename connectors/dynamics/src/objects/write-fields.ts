/**
 * A write naming a column the table does not have is refused as a whole, before anything is sent: inside a
 * `$batch` Dataverse would refuse only the operations naming it ("The property '…' does not exist on type …"),
 * so the operations beside them would be written and, with the call failing, their results lost (the engine
 * would create those records again). The check reads the table's cached description (the one `describe()`
 * refreshes, which the engine plans from): no request while it is warm.
 */
import { TandemError, type WriteOp } from '@tandem/core/plugin';
import type { MetadataService } from '../metadata';
import type { EntityInfo } from './entities';

export interface EntityOps {
  entity: EntityInfo;
  ops: readonly WriteOp[];
}

/** Throws `UNKNOWN_FIELD` naming every column of `groups`' ops that its table does not have. */
export async function assertKnownColumns(
  metadata: MetadataService,
  groups: readonly EntityOps[],
  signal?: AbortSignal,
): Promise<void> {
  for (const { entity, ops } of groups) {
    if (ops.length === 0) continue;
    const named = new Set<string>();
    for (const op of ops) for (const name in op.fields) named.add(name);
    const known = new Set((await metadata.describe(entity, signal)).fields.map((f) => f.name));
    const unknown = [...named].filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new TandemError(
        'UNKNOWN_FIELD',
        `Dynamics ${entity.logicalName} has no column ${unknown.map((f) => `'${f}'`).join(', ')} (check the field mapping); nothing of this write was sent.`,
        { status: 400, details: { objectType: entity.objectType, fields: unknown } },
      );
    }
  }
}
