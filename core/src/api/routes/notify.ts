/**
 * Change notices: `POST /v1/pipelines/:id/notify` starts an incremental cycle within seconds, debounced (see
 * `Notices`). Callers are webhooks of the systems themselves (a Dataverse service endpoint, a Marketo webhook in
 * a flow step) that send a body of their own: it is read (within the body limit) and ignored, whatever its type,
 * so that no caller needs to shape it. The bearer token comes in the `Authorization` header as everywhere.
 */
import { Type } from '@sinclair/typebox';
import { TandemError } from '../../plugin';
import type { ApiDeps } from '../deps';
import { requirePipeline } from '../lookups';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

const NoticeSchema = Type.Object({
  pipelineId: Type.String(),
  status: Type.Union(
    [Type.Literal('scheduled'), Type.Literal('coalesced'), Type.Literal('after-run'), Type.Literal('paused')],
    {
      description:
        '`scheduled`: a cycle starts when the window closes; `coalesced`: one is due already; `after-run`: one starts when the running cycle ends; `paused`: the pipeline is paused, nothing starts',
    },
  ),
  windowMs: Type.Integer({ description: 'The debounce window: notices within it start one cycle' }),
});

export const notifyRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  // Only within this plugin: any body, of any type, is read and dropped.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));

  app.post(
    '/v1/pipelines/:id/notify',
    {
      schema: {
        tags: ['runs'],
        summary:
          'A change notice (a Dataverse webhook, a Marketo flow step, any caller): starts an incremental cycle within seconds; notices within the debounce window start one cycle; the body is ignored',
        params: IdParams,
        response: { 202: NoticeSchema, ...problems(401, 404, 501) },
      },
    },
    async (request, reply) => {
      const notices = deps.notices;
      if (!notices) throw new TandemError('NOT_IMPLEMENTED', 'Change notices are not set up here', { status: 501 });
      const pipeline = await requirePipeline(deps, request.params.id);
      const status = pipeline.paused ? 'paused' : notices.notice(pipeline.id);
      return reply.code(202).send({ pipelineId: pipeline.id, status, windowMs: notices.windowMs });
    },
  );
};
