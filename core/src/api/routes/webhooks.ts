/**
 * A pipeline's webhooks: where Tandem posts a signed notice when a run ends `failed` or `partial` (or with any
 * outcome asked for), and the log of those deliveries. A webhook's secret is shown once, in the answer to the PUT
 * that generated it, and masked everywhere after.
 */
import { Type, type Static } from '@sinclair/typebox';
import { randomUUID } from 'node:crypto';
import { TandemError } from '../../plugin';
import { WEBHOOK_EVENTS, type DeliveryDoc, type Webhook, type WebhookEvent } from '../../repositories/webhooks';
import { generateSecret } from '../../webhooks/signature';
import type { ApiDeps } from '../deps';
import { ADMIN_ACTOR, requirePipeline } from '../lookups';
import { MASK } from '../masking';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
const EventSchema = Type.Union(
  WEBHOOK_EVENTS.map((e) => Type.Literal(e)),
  { description: 'A run outcome' },
);
const DEFAULT_EVENTS: WebhookEvent[] = ['failed', 'partial'];
const MAX_WEBHOOKS = 10;

const WebhookInputSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2000, description: 'Where to POST (http or https)' }),
    secret: Type.Optional(
      Type.String({
        minLength: 16,
        maxLength: 200,
        description:
          'The HMAC-SHA256 key signing each delivery. Left out: the one this URL has already, or a new one, shown once in the answer',
      }),
    ),
    events: Type.Optional(
      Type.Array(EventSchema, {
        minItems: 1,
        uniqueItems: true,
        description: 'The run outcomes to post; `failed` and `partial` by default',
      }),
    ),
  },
  { additionalProperties: false },
);

const WebhookViewSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(EventSchema),
  secret: Type.String({ description: 'Always masked' }),
  generatedSecret: Type.Optional(
    Type.String({ description: 'Only in the answer to the PUT that generated it: the secret, shown this once' }),
  ),
  createdAt: Type.String({ format: 'date-time' }),
});

const WebhooksSchema = Type.Object({ webhooks: Type.Array(WebhookViewSchema) });

const DeliverySchema = Type.Object({
  id: Type.String({ description: 'Sent as Tandem-Delivery, the same on every attempt' }),
  webhookId: Type.String(),
  url: Type.String(),
  event: Type.String({ description: '`run.failed`, `run.partial`, `run.succeeded` or `run.interrupted`' }),
  runId: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  responseCode: Type.Optional(Type.Integer({ description: "The receiver's HTTP status at the last attempt" })),
  error: Type.Optional(Type.String({ description: 'Why the last attempt failed' })),
  nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  deliveredAt: Type.Optional(Type.String({ format: 'date-time' })),
  history: Type.Array(
    Type.Object({
      at: Type.String({ format: 'date-time' }),
      responseCode: Type.Optional(Type.Integer()),
      error: Type.Optional(Type.String()),
      ms: Type.Integer({ description: 'How long the attempt took' }),
    }),
  ),
});

function badRequest(message: string): TandemError {
  return new TandemError('BAD_REQUEST', message, { status: 400 });
}

function checkedUrl(value: string, index: number): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`body.webhooks.${index}.url is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw badRequest(`body.webhooks.${index}.url must be http or https`);
  // A password in the URL would be shown and logged with it: the secret is where a receiver's key belongs.
  if (url.username || url.password) throw badRequest(`body.webhooks.${index}.url may not hold credentials`);
  return url.toString();
}

function view(hook: Webhook, generated?: string): Static<typeof WebhookViewSchema> {
  return {
    id: hook.id,
    url: hook.url,
    events: hook.events,
    secret: MASK,
    ...(generated ? { generatedSecret: generated } : {}),
    createdAt: hook.createdAt.toISOString(),
  };
}

function deliveryView(doc: DeliveryDoc): Static<typeof DeliverySchema> {
  const last = doc.history[doc.history.length - 1];
  return {
    id: doc._id,
    webhookId: doc.webhookId,
    url: doc.url,
    event: doc.event,
    runId: doc.runId,
    status: doc.status,
    attempts: doc.attempts,
    ...(last?.responseCode === undefined ? {} : { responseCode: last.responseCode }),
    ...(last?.error === undefined ? {} : { error: last.error }),
    nextAttemptAt: doc.status === 'pending' && doc.nextAttemptAt ? doc.nextAttemptAt.toISOString() : null,
    createdAt: doc.createdAt.toISOString(),
    ...(doc.deliveredAt ? { deliveredAt: doc.deliveredAt.toISOString() } : {}),
    history: doc.history.map((h) => ({
      at: h.at.toISOString(),
      ms: h.ms,
      ...(h.responseCode === undefined ? {} : { responseCode: h.responseCode }),
      ...(h.error === undefined ? {} : { error: h.error }),
    })),
  };
}

function store(deps: ApiDeps): NonNullable<ApiDeps['webhooks']> {
  if (!deps.webhooks) throw new TandemError('NOT_IMPLEMENTED', 'Webhooks are not set up here', { status: 501 });
  return deps.webhooks;
}

export const webhookRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.put(
    '/v1/pipelines/:id/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary:
          "Replace the pipeline's webhooks: signed POSTs when a run ends failed or partial (or as asked), retried with backoff",
        params: IdParams,
        body: Type.Object(
          { webhooks: Type.Array(WebhookInputSchema, { maxItems: MAX_WEBHOOKS }) },
          { additionalProperties: false },
        ),
        response: { 200: WebhooksSchema, ...problems(400, 401, 404, 501) },
      },
    },
    async (request) => {
      const repos = store(deps);
      const pipeline = await requirePipeline(deps, request.params.id);
      const current = await repos.webhooks.get(pipeline.id);
      const generated = new Map<string, string>();
      const urls = new Set<string>();
      const hooks = request.body.webhooks.map((input, index): Webhook => {
        const url = checkedUrl(input.url, index);
        if (urls.has(url)) throw badRequest(`body.webhooks.${index}.url is listed twice`);
        urls.add(url);
        // A URL already configured keeps its id and, unless a new one is given, its secret.
        const known = current.find((h) => h.url === url);
        const id = known?.id ?? randomUUID();
        let secret = input.secret ?? known?.secret;
        if (secret === undefined) {
          secret = generateSecret();
          generated.set(id, secret);
        }
        return { id, url, secret, events: input.events ?? DEFAULT_EVENTS, createdAt: known?.createdAt ?? new Date() };
      });
      const before = await repos.webhooks.replace(pipeline.id, hooks);
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'webhooks.replace',
        target: `pipelines/${pipeline.id}/webhooks`,
        before: before.map((h) => view(h)),
        after: hooks.map((h) => view(h)),
      });
      return { webhooks: hooks.map((h) => view(h, generated.get(h.id))) };
    },
  );

  app.get(
    '/v1/pipelines/:id/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: "The pipeline's webhooks (secrets masked)",
        params: IdParams,
        response: { 200: WebhooksSchema, ...problems(401, 404, 501) },
      },
    },
    async (request) => {
      const repos = store(deps);
      const pipeline = await requirePipeline(deps, request.params.id);
      return { webhooks: (await repos.webhooks.get(pipeline.id)).map((h) => view(h)) };
    },
  );

  app.get(
    '/v1/pipelines/:id/webhooks/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: "The pipeline's webhook deliveries, newest first: attempts, the receiver's answers, what is pending",
        params: IdParams,
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(DeliverySchema), ...problems(400, 401, 404, 501) },
      },
    },
    async (request) => {
      const repos = store(deps);
      const pipeline = await requirePipeline(deps, request.params.id);
      return (await repos.deliveries.list(pipeline.id, request.query.limit ?? 50)).map(deliveryView);
    },
  );
};
