/** The installed connector and policy plugins. */
import { Type } from '@sinclair/typebox';
import type { ApiPlugin } from '../type-provider';
import type { ApiDeps } from '../deps';
import { problems } from '../problem';

export const PluginInfoSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('connector'), Type.Literal('policy')]),
  package: Type.String(),
  version: Type.String(),
});

export const pluginRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/plugins',
    {
      schema: {
        tags: ['plugins'],
        summary: 'Installed connector and policy plugins',
        response: { 200: Type.Array(PluginInfoSchema), ...problems(401) },
      },
    },
    async () => deps.plugins.list(),
  );
};
