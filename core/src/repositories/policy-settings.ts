/**
 * `policy_settings`: the per-pipeline toggle and settings of each policy, written by
 * `PATCH /v1/pipelines/:id/policies/:policyId`. A pipeline without a document runs the policy on its
 * defaults (`effectivePolicySetting`); once an operator changes anything, both values are stored, so the
 * engine reads complete settings (they match the engine's `StoredPolicySetting`).
 */
import 'reflect-metadata';
import { inject, injectable } from 'tsyringe';
import type { Collection, Db } from 'mongodb';
import { CoreTokens } from '../di/tokens';
import type { Policy } from '../plugin';

export interface PolicySetting {
  pipelineId: string;
  policyId: string;
  enabled: boolean;
  settings: unknown;
  updatedAt: Date;
  updatedBy: string;
}

export interface PolicySettingPatch {
  enabled?: boolean;
  settings?: unknown;
}

interface PolicySettingDoc extends PolicySetting {
  _id: string;
}

function toSetting({ _id: _ignored, ...rest }: PolicySettingDoc): PolicySetting {
  return rest;
}

/** The toggle and settings a policy runs with: the stored ones, else the policy's defaults. */
export function effectivePolicySetting(
  policy: Policy,
  stored: PolicySetting | null | undefined,
): { enabled: boolean; settings: unknown } {
  return {
    enabled: stored?.enabled ?? policy.defaultEnabled,
    settings: stored?.settings ?? policy.defaultSettings,
  };
}

@injectable()
export class PolicySettingsRepository {
  private readonly collection: Collection<PolicySettingDoc>;

  constructor(@inject(CoreTokens.Db) db: Db) {
    this.collection = db.collection<PolicySettingDoc>('policy_settings');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ pipelineId: 1, policyId: 1 }, { unique: true, name: 'pipeline_policy_unique' });
  }

  async list(pipelineId: string): Promise<PolicySetting[]> {
    const docs = await this.collection.find({ pipelineId }).sort({ policyId: 1 }).toArray();
    return docs.map(toSetting);
  }

  async get(pipelineId: string, policyId: string): Promise<PolicySetting | null> {
    const doc = await this.collection.findOne({ pipelineId, policyId });
    return doc ? toSetting(doc) : null;
  }

  /**
   * Stores the fields present in `patch`; on the first change the others come from `defaults` (the policy's).
   * Returns the setting before (null if none) and after.
   */
  async set(
    pipelineId: string,
    policyId: string,
    patch: PolicySettingPatch,
    actor: string,
    defaults: { enabled: boolean; settings: unknown },
  ): Promise<{ before: PolicySetting | null; after: PolicySetting }> {
    const $set: Partial<PolicySettingDoc> = { updatedAt: new Date(), updatedBy: actor };
    const $setOnInsert: Partial<PolicySettingDoc> = { pipelineId, policyId };
    if (patch.enabled !== undefined) $set.enabled = patch.enabled;
    else $setOnInsert.enabled = defaults.enabled;
    if (patch.settings !== undefined) $set.settings = patch.settings;
    else $setOnInsert.settings = defaults.settings;
    const before = await this.collection.findOneAndUpdate(
      { _id: `${pipelineId}/${policyId}` },
      { $set, $setOnInsert },
      { upsert: true, returnDocument: 'before' },
    );
    const after = await this.get(pipelineId, policyId);
    if (!after) throw new Error(`policy setting ${pipelineId}/${policyId} vanished right after its upsert`);
    return { before: before ? toSetting(before) : null, after };
  }

  /** A deleted pipeline's settings go with it. */
  async deletePipeline(pipelineId: string): Promise<void> {
    await this.collection.deleteMany({ pipelineId });
  }
}
