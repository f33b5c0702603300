/**
 * Sync events in the person's Marketo activity log, as a custom activity type (activities.md, "Custom
 * Activity Types" and "Add Custom Activities"). The type is created, given its attributes and approved on
 * first use if the instance lacks it; its id is cached for the connector's lifetime.
 */
import type { Logger } from 'pino';
import { ProtocolError, type ActivityEvent } from '@tandem/core/plugin';
import type { MarketoClient } from './client';
import { asId, asRecord, chunk, firstReason } from './objects/shapes';

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
  private typeId: Promise<number> | undefined;
  readonly stats: ActivityStats = { activitiesAdded: 0, activitiesSkipped: 0 };

  constructor(
    private readonly client: MarketoClient,
    private readonly logger: Logger,
    private readonly apiName: string,
  ) {}

  async log(events: readonly ActivityEvent[], signal?: AbortSignal): Promise<void> {
    const valid = events.filter((e) => /^\d+$/.test(e.recordId));
    this.stats.activitiesSkipped += events.length - valid.length;
    if (valid.length === 0) return;
    const activityTypeId = await this.ensureType(signal);
    for (const batch of chunk(valid, 300)) {
      const input = batch.map((e) => ({
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
      }));
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

  private ensureType(signal?: AbortSignal): Promise<number> {
    this.typeId ??= this.findOrCreateType(signal).catch((error: unknown) => {
      this.typeId = undefined;
      throw error;
    });
    return this.typeId;
  }

  private async findOrCreateType(signal?: AbortSignal): Promise<number> {
    const list = await this.client.get('/v1/activities/external/types.json', {}, signal);
    const existing = list.result.map((t) => asRecord(t, 'activity type')).find((t) => t.apiName === this.apiName);
    let type = existing;
    if (!type) {
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
      type = asRecord(created.result[0], 'created activity type');
      await this.client.post(
        `/v1/activities/external/type/${encodeURIComponent(this.apiName)}/attributes/create.json`,
        { attributes: ATTRIBUTES },
        signal,
      );
      this.logger.info({ apiName: this.apiName }, 'marketo: created the custom activity type');
    }
    if (type.status !== 'approved') {
      // A new type is a draft until approved, and drafts cannot take activities.
      await this.client.post(
        `/v1/activities/external/type/${encodeURIComponent(this.apiName)}/approve.json`,
        {},
        signal,
      );
    }
    if (type.id === undefined) throw new ProtocolError('Marketo activity type without an id');
    return asId(type.id, 'activity type id');
  }
}
