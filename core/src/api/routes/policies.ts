/** Per-pipeline policy toggles and settings. A PATCH is validated, persisted, audited, and used from the next cycle. */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { registerFormats } from '../../config/formats';
import { TandemError, type Policy } from '../../plugin';
import { effectivePolicySetting, type PolicySetting } from '../../repositories';
import type { ApiDeps } from '../deps';
import { ADMIN_ACTOR, requirePipeline } from '../lookups';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';

const PolicyViewSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('collision'), Type.Literal('rejection')], { description: 'The decision point' }),
  description: Type.String(),
  enabled: Type.Boolean(),
  settings: Type.Unknown({ description: "Validated against the policy's settings schema" }),
  updatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Last change through the API; null while on defaults',
  }),
});
type PolicyView = Static<typeof PolicyViewSchema>;

const PatchBodySchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    settings: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: false, minProperties: 1 },
);

function view(id: string, policy: Policy, stored: PolicySetting | null): PolicyView {
  const { enabled, settings } = effectivePolicySetting(policy, stored);
  return {
    id,
    kind: policy.decisionPoint,
    description: policy.description,
    enabled,
    settings,
    updatedAt: stored ? stored.updatedAt.toISOString() : null,
  };
}

function requirePolicy(deps: ApiDeps, policyId: string): Policy {
  const policy = deps.plugins.policies().get(policyId);
  if (!policy) throw new TandemError('NOT_FOUND', `No policy "${policyId}" is installed`, { status: 404 });
  return policy;
}

/** The settings with the policy's defaults filled in; a 400 naming each bad field otherwise. */
function validSettings(policyId: string, policy: Policy, settings: Record<string, unknown>): Record<string, unknown> {
  const value = Value.Default(policy.settingsSchema, Value.Clone(settings)) as Record<string, unknown>;
  const errors = [...Value.Errors(policy.settingsSchema, value)].map((e) => ({
    field: `settings${e.path.replace(/\//g, '.')}`,
    message: e.message,
  }));
  if (errors.length > 0) {
    throw new TandemError(
      'BAD_REQUEST',
      `Invalid settings for policy ${policyId}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
      { status: 400, details: { errors } },
    );
  }
  return value;
}

export const policyRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  registerFormats();
  app.get(
    '/v1/pipelines/:id/policies',
    {
      schema: {
        tags: ['policies'],
        summary: "The pipeline's policies with their toggles and settings",
        params: Type.Object({ id: Type.String({ minLength: 1 }) }),
        response: { 200: Type.Array(PolicyViewSchema), ...problems(401, 404) },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const stored = new Map((await deps.policySettings.list(pipeline.id)).map((s) => [s.policyId, s]));
      return [...deps.plugins.policies()].map(([id, policy]) => view(id, policy, stored.get(id) ?? null));
    },
  );

  app.patch(
    '/v1/pipelines/:id/policies/:policyId',
    {
      schema: {
        tags: ['policies'],
        summary: 'Turn a policy on or off, or change its settings; takes effect from the next cycle',
        params: Type.Object({ id: Type.String({ minLength: 1 }), policyId: Type.String({ minLength: 1 }) }),
        body: PatchBodySchema,
        response: { 200: PolicyViewSchema, ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const { id, policyId } = request.params;
      const pipeline = await requirePipeline(deps, id);
      const policy = requirePolicy(deps, policyId);
      const { enabled, settings } = request.body;
      const patch = {
        ...(enabled === undefined ? {} : { enabled }),
        ...(settings === undefined ? {} : { settings: validSettings(policyId, policy, settings) }),
      };
      const defaults = { enabled: policy.defaultEnabled, settings: policy.defaultSettings };
      const { before, after } = await deps.policySettings.set(pipeline.id, policyId, patch, ADMIN_ACTOR, defaults);
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'policy.update',
        target: `pipelines/${pipeline.id}/policies/${policyId}`,
        before: effectivePolicySetting(policy, before),
        after: effectivePolicySetting(policy, after),
      });
      request.log.info({ pipeline: pipeline.id, policy: policyId, patch }, 'policy setting changed');
      return view(policyId, policy, after);
    },
  );
};
