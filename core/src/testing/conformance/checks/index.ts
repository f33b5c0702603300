/** Every check, by id, in the order the suite runs them. */
import { CONFORMANCE_CHECK_IDS, type ConformanceCheckId } from '../harness';
import type { CheckDefinition } from '../support';
import { CONNECTOR_CHECKS } from './connector';
import { DESCRIBE_CHECKS } from './describe';
import { GUARD_CHECKS } from './guards';
import { LOOKUP_CHECKS } from './lookups';
import { READ_CHANGES_CHECKS } from './read-changes';
import { WRITE_CHECKS } from './writes';

const byId = new Map<ConformanceCheckId, CheckDefinition>(
  [
    ...CONNECTOR_CHECKS,
    ...DESCRIBE_CHECKS,
    ...READ_CHANGES_CHECKS,
    ...LOOKUP_CHECKS,
    ...WRITE_CHECKS,
    ...GUARD_CHECKS,
  ].map((check) => [check.id, check]),
);

export const CHECKS: readonly CheckDefinition[] = CONFORMANCE_CHECK_IDS.map((id) => {
  const check = byId.get(id);
  if (!check) throw new Error(`conformance check '${id}' is listed but not defined`);
  return check;
});
if (byId.size !== CONFORMANCE_CHECK_IDS.length) throw new Error('a conformance check is defined but not listed');
