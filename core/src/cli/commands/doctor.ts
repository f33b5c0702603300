/**
 * `tandem doctor`: checks what a sync needs, like Marketo's "Validate Sync", and says what to fix: the CLI's own
 * configuration (where Tandem is, the token), Tandem's readiness and MongoDB (`GET /ready`), each connection's
 * check now (credentials, the remote instance, the API allowance left, the clock), and for each pipeline every
 * mapped field its sync users cannot read or write (`unsyncable` of `GET …/mappings`). Exits 1 when anything
 * needs fixing, 0 when only warnings remain.
 */
import type { CheckView, MappingsView, PipelineView, ReadyView } from '../api-types';
import type { TandemClient } from '../client';
import { EXIT } from '../errors';
import { num, type Output } from '../output';
import { oneLine } from './status';

/** Clocks further apart than this are worth a warning (change feeds read by timestamp allow some overlap)… */
const SKEW_WARN_S = 10;
/** …and this far apart, a fix: a watermark read may then miss or repeat changes. */
const SKEW_FAIL_S = 60;
/** Less than this share of an API allowance left is worth a warning. */
const QUOTA_WARN_SHARE = 0.1;

type Level = 'ok' | 'warn' | 'fail';

export interface Finding {
  section: string;
  level: Level;
  message: string;
  fix?: string;
}

export async function doctor(
  client: TandemClient,
  output: Output,
  options: { json?: boolean; pipeline?: string },
): Promise<number> {
  const findings: Finding[] = [];
  const add = (section: string, level: Level, message: string, fix?: string) =>
    findings.push({ section, level, message, ...(fix ? { fix } : {}) });

  // Configuration of the CLI itself.
  add('configuration', 'ok', `Tandem at ${client.url}`);
  if (!client.hasToken) {
    add('configuration', 'fail', 'TANDEM_API_TOKEN is not set', "Set TANDEM_API_TOKEN to the server's admin token");
    return report(output, findings, options);
  }

  // Readiness and MongoDB; any refusal here (unreachable, 401) ends the command with its own message.
  const ready = (await client.request<ReadyView>('GET', '/ready', undefined, [503])).body;
  add('configuration', 'ok', `mode ${ready.mode}, ${ready.plugins} plugin(s) loaded`);
  for (const warning of ready.warnings.filter((w) => !/in memory|in-memory/i.test(w)))
    add('configuration', 'warn', warning);
  const mongoReasons = ready.reasons.filter((r) => /mongo/i.test(r));
  if (mongoReasons.length > 0) {
    for (const reason of mongoReasons)
      add('MongoDB', 'fail', reason, 'Check that MongoDB runs and that MONGODB_URI points at it');
  } else {
    add('MongoDB', 'ok', `${ready.mongo.engine}, database ${ready.mongo.database}`);
  }
  if (!ready.mongo.persistent) {
    add(
      'MongoDB',
      ready.mode === 'live' ? 'fail' : 'warn',
      'data lives in memory: links and snapshots are lost when Tandem stops',
      ready.mode === 'live' ? 'Set MONGODB_URI to a MongoDB server' : undefined,
    );
  }

  // Each connection, checked now.
  const connections = await client.get<Array<{ id: string; connector: string; mode: string }>>('/v1/connections');
  if (connections.length === 0)
    add('connections', 'fail', 'no connection is configured', 'Set a connector’s variables');
  for (const connection of connections) {
    const section = `connection ${connection.id}`;
    const check = await client.post<CheckView>(`/v1/connections/${encodeURIComponent(connection.id)}/check`);
    if (!check.ok) {
      add(
        section,
        'fail',
        oneLine(check.message ?? 'the check failed', 500),
        `Check ${connection.id}'s credentials and URL`,
      );
      continue;
    }
    add(
      section,
      'ok',
      `credentials work${check.identity ? `, connected as ${check.identity}` : ''}${check.instance ? ` (instance ${check.instance})` : ''}`,
    );
    quotaFinding(check, section, add);
    clockFinding(check, section, add);
  }

  // Pipelines: whether they can run, and every mapped field their users cannot read or write.
  const pipelines = (await client.get<PipelineView[]>('/v1/pipelines')).filter(
    (p) => options.pipeline === undefined || p.id === options.pipeline,
  );
  if (options.pipeline !== undefined && pipelines.length === 0)
    add('pipelines', 'fail', `no pipeline "${options.pipeline}"`, 'Name one of `tandem status`');
  for (const pipeline of pipelines) {
    const section = `pipeline ${pipeline.id}`;
    const blocked = ready.pipelines.find((p) => p.id === pipeline.id && !p.ready);
    if (pipeline.state.syncEngine === 'unavailable')
      add(section, 'fail', pipeline.state.message ?? 'a connection is missing', 'Configure both of its connections');
    if (blocked) add(section, 'fail', `cannot run: ${blocked.reason ?? 'unknown'}`);
    const mappings = await client.get<MappingsView>(`/v1/pipelines/${encodeURIComponent(pipeline.id)}/mappings`);
    if (mappings.analysisError) {
      add(
        section,
        'fail',
        `the mapped fields could not be checked: ${oneLine(mappings.analysisError, 300)}`,
        'Fix the connections above, then run the doctor again',
      );
      continue;
    }
    for (const field of mappings.unsyncable) {
      const names = Object.keys(pipeline.sides)
        .map((c) => (typeof field[c] === 'string' && field[c] !== '' ? `${c}.${String(field[c])}` : undefined))
        .filter((n): n is string => n !== undefined)
        .join(' ↔ ');
      add(
        section,
        field.optional ? 'warn' : 'fail',
        `${field.object} ${names}: mapped ${field.direction}, syncs ${field.effective}: ${field.reasons.join('; ')}`,
        field.optional
          ? undefined
          : "Grant the sync user access to the field, or remove it from the pipeline's mappings",
      );
    }
    if (!blocked && pipeline.state.syncEngine !== 'unavailable' && mappings.unsyncable.length === 0)
      add(section, 'ok', 'every mapped field syncs as mapped');
  }
  return report(output, findings, options);
}

function quotaFinding(
  check: CheckView,
  section: string,
  add: (s: string, l: Level, m: string, f?: string) => void,
): void {
  const quota = check.quota;
  if (!quota || quota.remaining === undefined) {
    add(section, 'ok', 'API allowance left: not reported');
    return;
  }
  const of = quota.limit !== undefined ? ` of ${num(quota.limit)}` : '';
  const window = quota.window ? ` (${quota.window})` : '';
  const resets = quota.resetsAt ? `, resets ${new Date(quota.resetsAt).toISOString()}` : '';
  const text = `API allowance left: ${num(quota.remaining)}${of}${window}${resets}`;
  if (quota.remaining <= 0) add(section, 'fail', text, 'Wait for the quota to reset, or raise it with the vendor');
  else if (quota.limit !== undefined && quota.remaining < quota.limit * QUOTA_WARN_SHARE) add(section, 'warn', text);
  else add(section, 'ok', text);
}

function clockFinding(
  check: CheckView,
  section: string,
  add: (s: string, l: Level, m: string, f?: string) => void,
): void {
  if (!check.serverTime) return;
  const skew = (Date.parse(check.serverTime) - Date.parse(check.checkedAt)) / 1000;
  const text = `clock: the system is ${Math.abs(skew).toFixed(0)} s ${skew >= 0 ? 'ahead of' : 'behind'} Tandem`;
  if (Math.abs(skew) >= SKEW_FAIL_S) add(section, 'fail', text, "Synchronise the Tandem host's clock (NTP)");
  else if (Math.abs(skew) >= SKEW_WARN_S) add(section, 'warn', text);
  else add(section, 'ok', text);
}

function report(output: Output, findings: Finding[], options: { json?: boolean }): number {
  const failed = findings.some((f) => f.level === 'fail');
  if (options.json) {
    output.out(JSON.stringify({ ok: !failed, findings }, null, 2));
    return failed ? EXIT.FAILED : EXIT.OK;
  }
  const { c } = output;
  const mark = { ok: c.green('ok  '), warn: c.yellow('warn'), fail: c.red('FAIL') };
  let section = '';
  for (const f of findings) {
    if (f.section !== section) {
      section = f.section;
      output.out(c.bold(section));
    }
    output.out(`  ${mark[f.level]}  ${f.message}`);
    if (f.fix) output.out(`        ${c.cyan('fix:')} ${f.fix}`);
  }
  const fails = findings.filter((f) => f.level === 'fail').length;
  const warns = findings.filter((f) => f.level === 'warn').length;
  output.out();
  output.out(
    failed
      ? c.red(`${fails} problem(s) to fix${warns ? `, ${warns} warning(s)` : ''}.`)
      : c.green(`Nothing to fix${warns ? ` (${warns} warning(s))` : ''}.`),
  );
  return failed ? EXIT.FAILED : EXIT.OK;
}
