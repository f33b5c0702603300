/**
 * Liveness, readiness and Prometheus metrics. `/ready` must answer promptly even when what it checks does not:
 * each check has a deadline (a paused MongoDB once kept it from answering at all), and a failed or late
 * check is a reason in a 503.
 */
import { Type } from '@sinclair/typebox';
import type { ApiPlugin } from '../type-provider';
import type { ApiDeps, ConnectionStatus, PipelineStatus } from '../deps';
import { problems } from '../problem';

const DEFAULT_READY_TIMEOUT_MS = 1000;

const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]),
  reasons: Type.Array(Type.String(), { description: 'Why the instance is not ready (empty when ready)' }),
  warnings: Type.Array(Type.String(), {
    description: 'Worth knowing, not blocking (in-memory MongoDB, skipped plugins)',
  }),
  mode: Type.Union([Type.Literal('sandbox'), Type.Literal('live')]),
  mongo: Type.Object({ engine: Type.String(), persistent: Type.Boolean(), database: Type.String() }),
  plugins: Type.Integer(),
  connections: Type.Array(
    Type.Object({
      id: Type.String(),
      ok: Type.Boolean(),
      checkedAt: Type.Optional(Type.String({ format: 'date-time' })),
      message: Type.Optional(Type.String()),
      instance: Type.Optional(Type.String()),
    }),
    { description: "Each connection's last check; one that failed makes the instance not ready" },
  ),
  pipelines: Type.Array(
    Type.Object({ id: Type.String(), ready: Type.Boolean(), reason: Type.Optional(Type.String()) }),
    { description: 'Whether each pipeline can run; one that cannot makes the instance not ready' },
  ),
});

/**
 * `check` within `ms`, or why not: a late or failed check is a reason, never a hang. Both say the same, as the
 * check's own timeout and the deadline race each other.
 */
async function withDeadline(check: () => Promise<boolean>, ms: number, what: string): Promise<string | undefined> {
  const reason = `${what} does not answer within ${ms} ms`;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(reason), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      check().then(
        (ok) => (ok ? undefined : reason),
        () => reason,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A status provider's answer, or a reason when it fails (it belongs to another part of Tandem). */
function provided<T>(provider: (() => T[]) | undefined, what: string, reasons: string[]): T[] {
  if (!provider) return [];
  try {
    return provider();
  } catch (error) {
    reasons.push(`${what} unknown: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}

export const healthRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Liveness',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: MongoDB answers, every plugin is loaded, every connection and pipeline is usable',
        response: { 200: ReadySchema, 503: ReadySchema, ...problems(401) },
      },
    },
    async (_request, reply) => {
      const reasons: string[] = [];
      const timeoutMs = deps.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
      const mongo = await withDeadline(() => deps.mongo.ping(timeoutMs), timeoutMs, 'MongoDB');
      if (mongo) reasons.push(mongo);
      reasons.push(...(deps.notReadyReasons?.() ?? []));
      const connections = provided<ConnectionStatus>(deps.connectionStatus, 'connection status', reasons);
      for (const c of connections.filter((c) => !c.ok)) {
        reasons.push(`connection ${c.id} failed its last check${c.message ? `: ${c.message}` : ''}`);
      }
      const pipelines = provided<PipelineStatus>(deps.pipelineStatus, 'pipeline status', reasons);
      for (const p of pipelines.filter((p) => !p.ready)) {
        reasons.push(`pipeline ${p.id} cannot run${p.reason ? `: ${p.reason}` : ''}`);
      }
      const warnings: string[] = [];
      if (deps.mongo.info.warning) warnings.push(deps.mongo.info.warning);
      for (const skipped of deps.plugins.skipped())
        warnings.push(`plugin ${skipped.package} skipped: ${skipped.reason}`);
      for (const id of deps.absentConnectors)
        warnings.push(`connector ${id} is installed but not configured (none of its variables is set)`);
      const { engine, persistent, database } = deps.mongo.info;
      return reply.code(reasons.length === 0 ? 200 : 503).send({
        status: reasons.length === 0 ? 'ready' : 'not-ready',
        reasons,
        warnings,
        mode: deps.mode,
        mongo: { engine, persistent, database },
        plugins: deps.plugins.list().length,
        connections,
        pipelines,
      });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: Type.String(), ...problems(401) },
      },
    },
    async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(body);
    },
  );
};
