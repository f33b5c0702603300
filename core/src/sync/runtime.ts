/**
 * The sync runtime: runs cycles (scheduled or forced) under a MongoDB lease so that, with several instances
 * on one database, each cycle runs once and another instance takes over when the holder dies; answers the
 * REST API's runs, push, links and activity questions.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { sharedMetric, TandemError, type Connector, type ObjectDescription, type Policy } from '../plugin';
import { toActivity, toLink, toRun, type RunDoc, SyncStore } from '../repositories/sync-store';
import { LoopScheduler } from '../scheduler/scheduler';
import { MARKETO_OBJECT, SyncCycle } from './cycle';
import { analyzeMappings, type MappingAnalysis, type Mappings, type SystemDescriptions } from './mappings';
import { buildPlan, type SyncPlan } from './plan';
import { activePolicies, type StoredPolicySetting } from './policies';
import { pushPerson } from './push';
import {
  emptyCounts,
  type ActivityEntry,
  type ActivityQuery,
  type Link,
  type LinkQuery,
  type PushBody,
  type PushResult,
  type Run,
  type RunTrigger,
  type SyncService,
} from './service';

export interface PipelineLike {
  id: string;
  mappings: Mappings;
  schedule?: { intervalMinutes: number };
  newPersonAs?: 'lead' | 'contact';
}

export interface SyncRuntimeDeps {
  store: SyncStore;
  logger: Logger;
  registry?: Registry;
  connectors: ReadonlyMap<string, Connector>;
  policies: ReadonlyMap<string, Policy>;
  pipelines: { get(id: string): Promise<PipelineLike | null>; list(): Promise<PipelineLike[]> };
  policySettings: { list(pipelineId: string): Promise<StoredPolicySetting[]> };
  instanceId: string;
  /** Minutes to wait after a cycle ends before the next (TANDEM_SYNC_INTERVAL); a pipeline's schedule overrides it. */
  intervalMinutes: number;
  /** Run the schedule (false: cycles only when forced). */
  schedule: boolean;
  /** How long a lease lives without renewal: another instance takes over this long after the holder dies. */
  leaseTtlMs?: number;
  /** How long field descriptions are cached (they cost API calls; field security rarely changes). */
  describeTtlMs?: number;
}

export interface SyncRuntime extends SyncService {
  /** The analysis of a pipeline's mappings against both systems (for GET/PUT mappings). */
  analyze(mappings: Mappings): Promise<MappingAnalysis>;
  /** Runs one cycle now and waits for it (tests, CLI); null when another cycle holds the lease. */
  runOnce(pipelineId: string, trigger?: RunTrigger): Promise<Run | null>;
  stop(): Promise<void>;
}

const leaseName = (pipelineId: string) => `cycle:${pipelineId}`;

export class SyncRuntimeImpl implements SyncRuntime {
  private readonly marketo: Connector;
  private readonly dynamics: Connector;
  private readonly running = new Map<string, { controller: AbortController; done: Promise<unknown> }>();
  /** Pipelines with a cycle claimed or running in this process (set before any await; see `claim`). */
  private readonly busy = new Set<string>();
  private readonly schedulers: LoopScheduler[] = [];
  private readonly leaseTtlMs: number;
  private descriptions: { at: number; value: SystemDescriptions } | null = null;
  private readonly cycles?: Counter<'status'>;
  private readonly records?: Counter<'outcome'>;
  private readonly duration?: Histogram<'status'>;
  private stopped = false;

  constructor(private readonly deps: SyncRuntimeDeps) {
    const marketo = deps.connectors.get('marketo');
    const dynamics = deps.connectors.get('dynamics');
    if (!marketo || !dynamics) {
      throw new TandemError(
        'BAD_CONFIG',
        'The sync needs both the marketo and the dynamics connector plugins installed.',
      );
    }
    this.marketo = marketo;
    this.dynamics = dynamics;
    this.leaseTtlMs = deps.leaseTtlMs ?? 30_000;
    if (deps.registry) {
      const registers = [deps.registry];
      this.cycles = sharedMetric(
        deps.registry,
        'tandem_sync_cycles_total',
        () =>
          new Counter({
            name: 'tandem_sync_cycles_total',
            help: 'Sync cycles by final status',
            labelNames: ['status'],
            registers,
          }),
      );
      this.records = sharedMetric(
        deps.registry,
        'tandem_sync_records_total',
        () =>
          new Counter({
            name: 'tandem_sync_records_total',
            help: 'Records handled by sync cycles, by outcome',
            labelNames: ['outcome'],
            registers,
          }),
      );
      this.duration = sharedMetric(
        deps.registry,
        'tandem_sync_cycle_seconds',
        () =>
          new Histogram({
            name: 'tandem_sync_cycle_seconds',
            help: 'Sync cycle duration',
            labelNames: ['status'],
            buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800],
            registers,
          }),
      );
    }
  }

  /** Marks runs of dead instances interrupted and starts the schedule. */
  async start(): Promise<void> {
    const stale = await this.deps.store.markInterrupted(new Date(Date.now() - this.leaseTtlMs));
    if (stale > 0)
      this.deps.logger.warn({ runs: stale }, 'runs left running by a stopped instance are marked interrupted');
    if (!this.deps.schedule) return;
    for (const pipeline of await this.deps.pipelines.list()) {
      const scheduler = new LoopScheduler(
        `sync:${pipeline.id}`,
        () => this.tick(pipeline.id),
        this.deps.logger,
        this.leaseTtlMs,
      );
      scheduler.start(0);
      this.schedulers.push(scheduler);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Abort first: a scheduler's stop waits for its tick, and a tick for its cycle to end.
    for (const { controller } of this.running.values()) controller.abort(new Error('Tandem is shutting down'));
    await Promise.all(this.schedulers.map((s) => s.stop()));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  // ---- SyncService ---------------------------------------------------------------------------------

  async forceRun(pipelineId: string): Promise<{ runId: string }> {
    const pipeline = await this.pipeline(pipelineId);
    const holder = await this.claim(pipelineId);
    if (!holder) throw await this.conflict(pipelineId);
    const run = await this.createRun(pipelineId, 'manual', holder);
    void this.launch(pipeline, run, holder);
    return { runId: run._id };
  }

  async runOnce(pipelineId: string, trigger: RunTrigger = 'manual'): Promise<Run | null> {
    const pipeline = await this.pipeline(pipelineId);
    const holder = await this.claim(pipelineId);
    if (!holder) return null;
    const run = await this.createRun(pipelineId, trigger, holder);
    await this.launch(pipeline, run, holder);
    const done = await this.deps.store.getRun(run._id);
    return done ? toRun(done) : null;
  }

  /**
   * Takes the pipeline's cycle lease for one cycle, or answers null when a cycle holds it (here or on another
   * instance). The pipeline is marked busy in this process before the first await, so requests arriving
   * together cannot both pass; the lease, held under a name of its own for this cycle, keeps out every other
   * cycle, this instance's included. Whoever gets a holder must `launch` (or `unclaim`).
   */
  private async claim(pipelineId: string, minGapMs = 0): Promise<string | null> {
    if (this.stopped || this.busy.has(pipelineId)) return null;
    this.busy.add(pipelineId);
    const holder = `${this.deps.instanceId}/${randomUUID()}`;
    try {
      if (await this.deps.store.acquireLease(leaseName(pipelineId), holder, this.leaseTtlMs, minGapMs)) return holder;
    } catch (error) {
      this.busy.delete(pipelineId);
      throw error;
    }
    this.busy.delete(pipelineId);
    return null;
  }

  /** Creates the run of a claimed cycle; the claim is given back if that fails. */
  private async createRun(pipelineId: string, trigger: RunTrigger, holder: string): Promise<RunDoc> {
    try {
      return await this.deps.store.createRun(pipelineId, trigger, this.deps.instanceId, emptyCounts());
    } catch (error) {
      this.busy.delete(pipelineId);
      await this.deps.store.releaseLease(leaseName(pipelineId), holder, false).catch(() => undefined);
      throw error;
    }
  }

  /** 409 naming the run in progress, so a client can follow it instead. */
  private async conflict(pipelineId: string): Promise<TandemError> {
    const current = await this.deps.store.runningRun(pipelineId).catch(() => null);
    return new TandemError(
      'CONFLICT',
      `A cycle of pipeline "${pipelineId}" is already running${current ? ` (run ${current._id})` : ''}.`,
      { status: 409, details: current ? { problem: { runId: current._id } } : undefined },
    );
  }

  async listRuns(pipelineId: string, limit: number): Promise<Run[]> {
    await this.pipeline(pipelineId);
    return (await this.deps.store.listRuns(pipelineId, limit)).map(toRun);
  }

  async getRun(runId: string): Promise<Run | null> {
    const doc = await this.deps.store.getRun(runId);
    return doc ? toRun(doc) : null;
  }

  async push(pipelineId: string, body: PushBody): Promise<PushResult> {
    const pipeline = await this.pipeline(pipelineId);
    const { plan } = await this.plan(pipeline.mappings);
    return pushPerson(
      { pipelineId, store: this.deps.store, marketo: this.marketo, dynamics: this.dynamics, plan },
      body,
    );
  }

  async links(pipelineId: string, query: LinkQuery): Promise<Link[]> {
    await this.pipeline(pipelineId);
    return (await this.deps.store.findLinks(pipelineId, query, query.limit ?? 100)).map(toLink);
  }

  async activity(pipelineId: string, query: ActivityQuery): Promise<ActivityEntry[]> {
    await this.pipeline(pipelineId);
    return (await this.deps.store.listActivity(pipelineId, query, query.limit ?? 50)).map(toActivity);
  }

  async analyze(mappings: Mappings): Promise<MappingAnalysis> {
    return analyzeMappings(mappings, await this.describe());
  }

  // ---- cycles --------------------------------------------------------------------------------------

  /** One scheduler tick: run a cycle if the lease and the interval allow, and say when to look again. */
  private async tick(pipelineId: string): Promise<{ nextInMs: number }> {
    const pipeline = await this.pipeline(pipelineId);
    const intervalMs = Math.max(1, (pipeline.schedule?.intervalMinutes ?? this.deps.intervalMinutes) * 60_000);
    if (this.stopped || this.busy.has(pipelineId)) return { nextInMs: intervalMs };
    const holder = await this.claim(pipelineId, intervalMs);
    if (holder) {
      const run = await this.createRun(pipelineId, 'schedule', holder);
      await this.launch(pipeline, run, holder);
      return { nextInMs: intervalMs };
    }
    // Someone else holds the lease, or the last cycle (maybe another instance's) ended less than an interval ago.
    const current = await this.deps.store.getLease(leaseName(pipelineId));
    const now = Date.now();
    const waits = [100];
    if (current?.lastFinishedAt) waits.push(current.lastFinishedAt.getTime() + intervalMs - now);
    if (current && !current.holder.startsWith(`${this.deps.instanceId}/`))
      waits.push(current.expiresAt.getTime() - now);
    return { nextInMs: Math.min(intervalMs, Math.max(...waits)) };
  }

  /**
   * Runs a cycle of `pipeline` (as read by the caller, once per cycle) under the lease the caller claimed.
   * Never rejects: a cycle's failure is its run's status, and a store that fails meanwhile is logged.
   */
  private launch(pipeline: PipelineLike, run: RunDoc, holder: string): Promise<void> {
    const pipelineId = pipeline.id;
    const controller = new AbortController();
    // A cycle claimed just before `stop()` would otherwise miss its abort and run to the end.
    if (this.stopped) controller.abort(new Error('Tandem is shutting down'));
    const done = this.execute(pipeline, run, controller, holder)
      .catch((error: unknown) =>
        this.deps.logger.error({ err: error, pipelineId, runId: run._id }, 'cycle ended badly'),
      )
      .finally(() => {
        this.running.delete(pipelineId);
        this.busy.delete(pipelineId);
      });
    this.running.set(pipelineId, { controller, done });
    return done;
  }

  private async execute(
    pipeline: PipelineLike,
    run: RunDoc,
    controller: AbortController,
    holder: string,
  ): Promise<void> {
    const pipelineId = pipeline.id;
    const { store, logger: rootLogger } = this.deps;
    const logger = rootLogger.child({ pipelineId, runId: run._id });
    const started = Date.now();
    const counts = run.counts;
    // Heartbeat: keeps the lease and tells other instances this run is alive; a lost lease stops the cycle.
    const heartbeat = setInterval(
      () => {
        void store.renewLease(leaseName(pipelineId), holder, this.leaseTtlMs).then(
          (held) => {
            if (!held) controller.abort(new Error('The cycle lease was lost to another instance'));
          },
          (error: unknown) => logger.warn({ err: error }, 'lease renewal failed'),
        );
        void store.updateRun(run._id, { counts }).catch(() => undefined);
      },
      Math.max(50, Math.floor(this.leaseTtlMs / 3)),
    );
    heartbeat.unref();
    let status: RunDoc['status'] = 'failed';
    let error: string | undefined;
    try {
      const orphans = await store.interruptOrphans(pipelineId, run._id);
      if (orphans > 0) logger.warn({ runs: orphans }, 'runs of an instance that died are marked interrupted');
      logger.info({ trigger: run.trigger }, 'sync cycle started');
      const policies = activePolicies(this.deps.policies, await this.deps.policySettings.list(pipelineId), logger);
      // A field deleted in a system since it was last described fails the streams that read or write it: the
      // cycle is planned again from fresh descriptions (without that field) and run once more.
      for (let attempt = 0; ; attempt++) {
        const { plan, warnings } = await this.plan(pipeline.mappings);
        if (warnings.length > 0) {
          logger.warn({ warnings }, 'some mapped fields do not sync');
          await store.updateRun(run._id, { warnings });
        }
        const cursors = await store.loadCursors(pipelineId);
        const cycle = new SyncCycle({
          pipelineId,
          runId: run._id,
          store,
          marketo: this.marketo,
          dynamics: this.dynamics,
          plan,
          newPersonAs: pipeline.newPersonAs ?? 'lead',
          resolveCollision: policies.resolveCollision,
          onRejected: policies.onRejected,
          logger,
          counts,
          signal: controller.signal,
          report: (progress) => store.updateRun(run._id, { counts, progress }),
        });
        const outcome = await cycle.run(cursors, (system, objectType) =>
          SyncStore.cursorId(pipelineId, system, objectType),
        );
        status = outcome.status;
        error = outcome.error;
        if (!outcome.fieldsChanged || attempt > 0) break;
        logger.warn({ error }, 'a mapped field no longer exists; describing both systems again');
        this.descriptions = null;
      }
    } catch (caught) {
      status = controller.signal.aborted ? 'interrupted' : 'failed';
      error = caught instanceof Error ? caught.message : String(caught);
      if (status === 'failed') logger.error({ err: caught }, 'sync cycle failed');
    } finally {
      clearInterval(heartbeat);
    }
    if (!(await store.finishRun(run._id, { status, counts, error }))) {
      logger.warn({ status }, 'this run was declared interrupted by another instance meanwhile; its status stays');
    }
    await store.releaseLease(leaseName(pipelineId), holder, status !== 'interrupted');
    const seconds = (Date.now() - started) / 1000;
    this.cycles?.inc({ status });
    this.duration?.observe({ status }, seconds);
    for (const [outcome, n] of Object.entries(counts)) if (n > 0) this.records?.inc({ outcome }, n);
    logger.info({ status, counts, seconds, ...(error ? { error } : {}) }, 'sync cycle finished');
  }

  // ---- plan ----------------------------------------------------------------------------------------

  private async pipeline(pipelineId: string): Promise<PipelineLike> {
    const pipeline = await this.deps.pipelines.get(pipelineId);
    if (!pipeline) throw new TandemError('NOT_FOUND', `Pipeline "${pipelineId}" does not exist.`, { status: 404 });
    return pipeline;
  }

  private async describe(): Promise<SystemDescriptions> {
    const ttl = this.deps.describeTtlMs ?? 15 * 60_000;
    if (this.descriptions && Date.now() - this.descriptions.at < ttl) return this.descriptions.value;
    const dynamics: Record<string, ObjectDescription> = {};
    const [marketo, ...described] = await Promise.all([
      this.marketo.describe(MARKETO_OBJECT),
      ...this.dynamics.objectTypes.map((t) => this.dynamics.describe(t)),
    ]);
    this.dynamics.objectTypes.forEach((t, i) => {
      const d = described[i];
      if (d) dynamics[t] = d;
    });
    const value: SystemDescriptions = { marketo: marketo as ObjectDescription, dynamics };
    this.descriptions = { at: Date.now(), value };
    return value;
  }

  /**
   * The cycle's field plan, and a warning for each mapped field a system lacks (it does not sync; the rest
   * does). Only mappings that leave nothing to match people by stop the cycle.
   */
  private async plan(mappings: Mappings): Promise<{ plan: SyncPlan; warnings: string[] }> {
    const descriptions = await this.describe();
    const analysis = analyzeMappings(mappings, descriptions);
    if (analysis.errors.length > 0) {
      throw new TandemError('BAD_CONFIG', `The pipeline's mappings are not usable: ${analysis.errors.join('; ')}`, {
        status: 409,
      });
    }
    const warnings = analysis.missing.map((m) => `Not synced: ${m}`);
    const plan = buildPlan(analysis, {
      marketo: descriptions.marketo.emailField,
      dynamics: Object.fromEntries(Object.entries(descriptions.dynamics).map(([t, d]) => [t, d.emailField])),
    });
    return { plan, warnings };
  }
}

/** Builds the runtime, marks stale runs interrupted and starts the schedule. */
export async function startSync(deps: SyncRuntimeDeps): Promise<SyncRuntime> {
  const runtime = new SyncRuntimeImpl(deps);
  await runtime.start();
  return runtime;
}
