/**
 * Sync events in the person's Marketo activity log, as a custom activity type (activities.md, "Custom
 * Activity Types" and "Add Custom Activities"). The type is created, given its attributes and approved on
 * first use if the instance lacks it; its id is cached for the connector's lifetime.
 */
import type { Logger } from 'pino';
import { ProtocolError, type ActivityEvent } from '@tandem/core/plugin';
import type { MarketoClient } from './client';
import { asId, asRecord, batches, firstReason, jsonBytes } from './objects/shapes';
import { Shared } from './shared';

const ATTRIBUTES = [
  { apiName: 'summary', name: 'Summary', dataType: 'string', description: 'What happened, in one line' },
  {
    apiName: 'detail',
    name: 'Detail',
    dataType: 'text',
    description: "The other system's message or the changed fields",
  },
  { apiName: 'otherSystem', name: 'Other System', dataType: 'string', description: 'The system on the other side' },
  { apiName: 'otherId', name: 'Other Id', dataType: 'string', description: 'The record id in the other system' },
] as const;

export type ActivityStats = {
  activitiesAdded: number;
  activitiesSkipped: number;
};

export class ActivityLog {
  /** The custom activity type's id, found or made once (a failure is not kept: the next call tries again). */
  private readonly typeId: Shared<number>;
  readonly stats: ActivityStats = { activitiesAdded: 0, activitiesSkipped: 0 };

  constructor(
    private readonly client: MarketoClient,
    private readonly logger: Logger,
    private readonly apiName: string,
  ) {
    this.typeId = new Shared((signal) => this.findOrCreateType(signal), true);
  }

  async log(events: readonly ActivityEvent[], signal?: AbortSignal): Promise<void> {
    const valid = events.filter((e) => /^\d+$/.test(e.recordId));
    this.stats.activitiesSkipped += events.length - valid.length;
    if (valid.length === 0) return;
    const activityTypeId = await this.typeId.get(signal);
    const entries = valid.map((e) => ({
      recordId: e.recordId,
      activity: {
        leadId: Number(e.recordId),
        activityDate: e.at,
        activityTypeId,
        primaryAttributeValue: e.type,
        attributes: [
          { apiName: 'summary', value: e.summary.slice(0, 255) },
          ...(e.detail ? [{ apiName: 'detail', value: e.detail.slice(0, 4000) }] : []),
          ...(e.otherSystem ? [{ apiName: 'otherSystem', value: e.otherSystem.slice(0, 255) }] : []),
          ...(e.otherId ? [{ apiName: 'otherId', value: e.otherId.slice(0, 255) }] : []),
        ],
      },
    }));
    // 300 activities a call, fewer when they would pass the 1 MB body limit: 300 details of 4,000 characters do.
    for (const batch of batches(entries, 300, (e) => jsonBytes(e.activity))) {
      const input = batch.map((e) => e.activity);
      const envelope = await this.client.post('/v1/activities/external.json', { input }, signal);
      envelope.result.forEach((raw, i) => {
        const item = asRecord(raw, 'custom activity result');
        if (item.status === 'added') {
          this.stats.activitiesAdded++;
          return;
        }
        this.stats.activitiesSkipped++;
        // A person deleted since the sync (1004) is expected now and then: worth a warning, not a failure.
        this.logger.warn({ leadId: batch[i]?.recordId, reason: firstReason(item) }, 'marketo: activity not added');
      });
    }
  }

  /**
   * The type's id: from the list of custom types, else made (created, given its attributes, approved). The
   * documented answer to Create Custom Activity Type carries no id (activities.md, "Create type"), so the id is
   * taken from the answers that do carry one, or from Describe Custom Activity Type.
   */
  private async findOrCreateType(signal: AbortSignal): Promise<number> {
    const list = await this.client.get('/v1/activities/external/types.json', {}, signal);
    const existing = list.result.map((t) => asRecord(t, 'activity type')).find((t) => t.apiName === this.apiName);
    const type = `/v1/activities/external/type/${encodeURIComponent(this.apiName)}`;
    const answers: Array<Record<string, unknown>> = existing ? [existing] : [];
    if (!existing) {
      const created = await this.client.post(
        '/v1/activities/external/type.json',
        {
          apiName: this.apiName,
          name: 'Tandem Sync',
          description: 'Tandem sync events between Marketo and Microsoft Dynamics',
          triggerName: 'Tandem Sync Event',
          filterName: 'Had Tandem Sync Event',
          primaryAttribute: {
            apiName: 'eventType',
            name: 'Event Type',
            description: 'created, updated, rejected, ...',
          },
        },
        signal,
      );
      answers.push(asRecord(created.result[0], 'created activity type'));
      const withAttributes = await this.client.post(
        `${type}/attributes/create.json`,
        { attributes: ATTRIBUTES },
        signal,
      );
      answers.push(asRecord(withAttributes.result[0], 'activity type attributes'));
      this.logger.info({ apiName: this.apiName }, 'marketo: created the custom activity type');
    }
    if (answers[0]?.status !== 'approved') {
      // A new type is a draft until approved, and drafts cannot take activities.
      const approved = await this.client.post(`${type}/approve.json`, {}, signal);
      if (approved.result[0] !== undefined) answers.push(asRecord(approved.result[0], 'approved activity type'));
    }
    const id = answers.find((a) => a.id !== undefined)?.id;
    if (id !== undefined) return asId(id, 'activity type id');
    const described = await this.client.get(`${type}/describe.json`, {}, signal);
    const found = asRecord(described.result[0], 'described activity type').id;
    if (found === undefined) throw new ProtocolError('Marketo activity type without an id');
    return asId(found, 'activity type id');
  }
}
