/** Connections: the configured connectors, their settings (secrets masked) and a credentials probe. */
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../deps';
import { requireConnection } from '../lookups';
import { maskSecrets } from '../masking';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';

const ConnectionSchema = Type.Object({
  id: Type.String(),
  connector: Type.String({ description: 'The connector plugin it is made of' }),
  mode: Type.Union([Type.Literal('live'), Type.Literal('sandbox')]),
  objectTypes: Type.Array(Type.String()),
});

const CheckSchema = Type.Object({
  ok: Type.Boolean(),
  identity: Type.Optional(Type.String({ description: 'Who the connection is connected as' })),
  instance: Type.Optional(
    Type.String({ description: 'Which instance of the system answered (an org id, a munchkin id)' }),
  ),
  message: Type.Optional(Type.String()),
  quota: Type.Optional(
    Type.Object(
      {
        used: Type.Optional(Type.Number()),
        limit: Type.Optional(Type.Number()),
        remaining: Type.Optional(Type.Number()),
        resetsAt: Type.Optional(Type.String({ format: 'date-time' })),
        window: Type.Optional(Type.String({ description: 'What is counted, e.g. "day (US Central)"' })),
      },
      { description: 'The API allowance left, where the system says so cheaply' },
    ),
  ),
  serverTime: Type.Optional(
    Type.String({ format: 'date-time', description: "The system's clock at the check (from its HTTP Date header)" }),
  ),
  checkedAt: Type.String({ format: 'date-time', description: "Tandem's clock at the check" }),
});

const IdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100, description: 'Connection id, e.g. `marketo`' }),
});

export const connectionRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  const view = (id: string) => {
    const info = deps.connections.list().find((c) => c.id === id);
    const last = deps.connections.last(id);
    const schema = deps.plugins.plugin(info?.connector ?? id)?.definition.configSchema;
    return {
      ...(info ?? { id, connector: id, mode: deps.mode, objectTypes: [] }),
      config: maskSecrets(deps.connectionConfigs.get(id) ?? null, schema),
      lastCheck: last ? { ...last, checkedAt: last.checkedAt.toISOString() } : null,
    };
  };

  app.get(
    '/v1/connections',
    {
      schema: {
        tags: ['connections'],
        summary: 'The configured connections (one per connector whose variables are set, or per sandbox)',
        response: { 200: Type.Array(ConnectionSchema), ...problems(401) },
      },
    },
    async () => deps.connections.list(),
  );

  app.get(
    '/v1/connections/:id',
    {
      schema: {
        tags: ['connections'],
        summary: 'One connection, its settings with secrets masked, and its last check',
        params: IdParams,
        response: {
          200: Type.Composite([
            ConnectionSchema,
            Type.Object({
              config: Type.Unknown({ description: 'The connection settings, secrets masked' }),
              lastCheck: Type.Union([CheckSchema, Type.Null()]),
            }),
          ]),
          ...problems(401, 404),
        },
      },
    },
    async (request) => {
      requireConnection(deps, request.params.id);
      return view(request.params.id);
    },
  );

  app.post(
    '/v1/connections/:id/check',
    {
      schema: {
        tags: ['connections'],
        summary: 'Probe credentials and permissions now',
        params: IdParams,
        response: { 200: CheckSchema, ...problems(401, 404) },
      },
    },
    async (request) => {
      requireConnection(deps, request.params.id);
      const record = await deps.connections.check(request.params.id);
      return { ...record, checkedAt: record.checkedAt.toISOString() };
    },
  );
};
