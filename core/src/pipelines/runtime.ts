/**
 * The sync runtime: runs every pipeline's cycles (scheduled, forced, on notice) under a MongoDB lease per
 * pipeline, so that with several instances on one database each cycle runs once, one cycle per pipeline at a
 * time, several pipelines side by side, and another instance takes over when the holder dies. It also answers
 * the REST API's questions about runs, links, activity, pushes and resets.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { sharedMetric, TandemError, type Policy } from '../plugin';
import type { Connections } from '../connections/connections';
import { isStoreUnavailable } from '../db/errors';
import type { Pipeline } from '../repositories/pipelines';
import type { ActivityDoc, LinkDoc, RunDoc, SyncStore } from '../repositories/sync-store';
import { LoopScheduler } from '../scheduler/scheduler';
import { SyncCycle } from '../sync/cycle';
import { addCounts, type SideKey } from '../sync/model';
import { activePolicies, type StoredPolicySetting } from '../sync/policies';
import { pushPerson, type PushOutcome, type PushRequest } from '../sync/push';
import type { PlannedChange } from '../sync/dry-run';
import { emptyCounts, type RunCounts, type RunTrigger } from '../sync/service';
import { verifyInstances } from './identity';
import { analyzePipeline, pipelineSides, planPipeline } from './planner';

export interface PipelineSource {
  get(id: string): Promise<Pipeline | null>;
  list(): Promise<Pipeline[]>;
  bindInstances(id: string, instances: Record<string, string>): Promise<void>;
  clearInstances(id: string): Promise<void>;
}

export interface SyncRuntimeDeps {
  store: SyncStore;
  logger: Logger;
  registry?: Registry;
  connections: Connections;
  policies: ReadonlyMap<string, Policy>;
  pipelines: PipelineSource;
  policySettings: { list(pipelineId: string): Promise<StoredPolicySetting[]> };
  instanceId: string;
  /** Minutes to wait after a cycle ends before the next (TANDEM_SYNC_INTERVAL); a pipeline's schedule overrides it. */
  intervalMinutes: number;
  /** Run the schedule (false: cycles only when forced). */
  schedule: boolean;
  /** How long a lease lives without renewal: another instance takes over this long after the holder dies. */
  leaseTtlMs?: number;
}

/** Told of every run this instance ends, as it ends (webhooks, notices): must return at once and never throw. */
export type RunEndListener = (run: RunDoc) => void;

const leaseName = (pipelineId: string) => `cycle:${pipelineId}`;

interface Metrics {
  cycles: Counter<'status' | 'pipeline'>;
  records: Counter<'outcome' | 'pipeline'>;
  duration: Histogram<'status' | 'pipeline'>;
  lastSuccess: Gauge<'pipeline'>;
}

function metrics(registry: Registry): Metrics {
  const registers = [registry];
  return {
    cycles: sharedMetric(
      registry,
      'tandem_sync_cycles_total',
      () =>
        new Counter({
          name: 'tandem_sync_cycles_total',
          help: 'Sync cycles by final status',
          labelNames: ['status', 'pipeline'],
          registers,
        }),
    ),
    records: sharedMetric(
      registry,
      'tandem_sync_records_total',
      () =>
        new Counter({
          name: 'tandem_sync_records_total',
          help: 'Records handled by sync cycles, by outcome (counted as each write set is saved)',
          labelNames: ['outcome', 'pipeline'],
          registers,
        }),
    ),
    duration: sharedMetric(
      registry,
      'tandem_sync_cycle_seconds',
      () =>
        new Histogram({
          name: 'tandem_sync_cycle_seconds',
          help: 'Sync cycle duration',
          labelNames: ['status', 'pipeline'],
          buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800],
          registers,
        }),
    ),
    lastSuccess: sharedMetric(
      registry,
      'tandem_sync_last_success_timestamp_seconds',
      () =>
        new Gauge({
          name: 'tandem_sync_last_success_timestamp_seconds',
          help: 'When the last cycle of each pipeline that succeeded ended (Unix time)',
          labelNames: ['pipeline'],
          registers,
        }),
    ),
  };
}

export class SyncRuntime {
  private readonly running = new Map<string, { controller: AbortController; done: Promise<unknown>; runId: string }>();
  /** Pipelines with a cycle claimed or running in this process (set before any await; see `claim`). */
  private readonly busy = new Set<string>();
  /** Pipelines stopped by the identity guard, with the reason (cleared by a cycle that passes it, or a reset). */
  private readonly blocked = new Map<string, string>();
  private readonly schedulers = new Map<string, LoopScheduler>();
  private readonly leaseTtlMs: number;
  private readonly metrics?: Metrics;
  private readonly runEndListeners: RunEndListener[] = [];
  private stopped = false;
  /** Rejects when `stop()` is called: ends waits that must not hold up a shutdown. */
  private readonly stopping: Promise<never>;
  private signalStop: (reason: Error) => void = () => undefined;

  constructor(private readonly deps: SyncRuntimeDeps) {
    this.leaseTtlMs = deps.leaseTtlMs ?? 30_000;
    this.stopping = new Promise<never>((_, reject) => (this.signalStop = reject));
    // Nobody may be waiting on it when it rejects.
    this.stopping.catch(() => undefined);
    if (deps.registry) this.metrics = metrics(deps.registry);
  }

  /** Marks runs of dead instances interrupted and starts every pipeline's schedule. */
  async start(): Promise<void> {
    const stale = await this.deps.store.runs.markInterrupted(new Date(Date.now() - this.leaseTtlMs));
    if (stale > 0)
      this.deps.logger.warn({ runs: stale }, 'runs left running by a stopped instance are marked interrupted');
    for (const pipeline of await this.deps.pipelines.list()) this.schedule(pipeline.id);
  }

  /** Starts the schedule of a pipeline (a new one, or every one at start). */
  schedule(pipelineId: string): void {
    if (!this.deps.schedule || this.stopped || this.schedulers.has(pipelineId)) return;
    const scheduler = new LoopScheduler(
      `sync:${pipelineId}`,
      () => this.tick(pipelineId),
      this.deps.logger,
      this.leaseTtlMs,
    );
    this.schedulers.set(pipelineId, scheduler);
    scheduler.start(0);
  }

  /**
   * Stops a pipeline for good (it is being deleted): its schedule, its running cycle (aborted), then its lease.
   * Answers once nothing of it runs here any more.
   */
  async unschedule(pipelineId: string): Promise<void> {
    const scheduler = this.schedulers.get(pipelineId);
    this.schedulers.delete(pipelineId);
    await scheduler?.stop();
    const running = this.running.get(pipelineId);
    running?.controller.abort(new Error('The pipeline is being deleted'));
    await running?.done;
    this.blocked.delete(pipelineId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop(new Error('Tandem is shutting down: the run is left as it is'));
    // Abort first: a scheduler's stop waits for its tick, and a tick for its cycle to end.
    for (const { controller } of this.running.values()) controller.abort(new Error('Tandem is shutting down'));
    await Promise.all([...this.schedulers.values()].map((s) => s.stop()));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** TANDEM_SYNC_INTERVAL: a new pipeline's interval unless it names one. */
  get defaultIntervalMinutes(): number {
    return this.deps.intervalMinutes;
  }

  /**
   * Calls `listener` with each run this instance ends (its final document), after its status is stored. A
   * listener's work happens in the background: it can neither slow nor fail the cycle.
   */
  onRunEnd(listener: RunEndListener): void {
    this.runEndListeners.push(listener);
  }

  /** The id of the cycle this instance is running for a pipeline, if any. */
  runningRunId(pipelineId: string): string | undefined {
    return this.running.get(pipelineId)?.runId;
  }

  // ---- runs ----------------------------------------------------------------------------------------

  async forceRun(pipelineId: string, trigger: RunTrigger = 'manual'): Promise<{ runId: string }> {
    const pipeline = await this.pipeline(pipelineId);
    const holder = await this.claim(pipelineId);
    if (!holder) throw await this.conflict(pipelineId);
    const run = await this.createRun(pipelineId, trigger, holder);
    void this.launch(pipeline, run, holder);
    return { runId: run._id };
  }

  /** Runs one cycle now and waits for it (tests, benchmarks); null when another cycle holds the lease. */
  async runOnce(pipelineId: string, trigger: RunTrigger = 'manual'): Promise<RunDoc | null> {
    const pipeline = await this.pipeline(pipelineId);
    const holder = await this.claim(pipelineId);
    if (!holder) return null;
    const run = await this.createRun(pipelineId, trigger, holder);
    await this.launch(pipeline, run, holder);
    return this.deps.store.runs.get(run._id);
  }

  listRuns(pipelineId: string, limit: number): Promise<RunDoc[]> {
    return this.deps.store.runs.list(pipelineId, limit);
  }

  getRun(runId: string): Promise<RunDoc | null> {
    return this.deps.store.runs.get(runId);
  }

  /**
   * Starts a pipeline over against the instances its connections answer as now: forgets its links, snapshots
   * and cursors, and which instances they belonged to. 409 while a cycle runs.
   */
  async reset(pipelineId: string): Promise<{ links: number; cursors: number }> {
    await this.pipeline(pipelineId);
    const holder = await this.claim(pipelineId);
    if (!holder) throw await this.conflict(pipelineId);
    try {
      const removed = await this.deps.store.resetPipeline(pipelineId);
      await this.deps.pipelines.clearInstances(pipelineId);
      this.blocked.delete(pipelineId);
      this.deps.logger.warn({ pipelineId, ...removed }, 'pipeline reset: its next cycle is an initial sync');
      return removed;
    } finally {
      this.busy.delete(pipelineId);
      await this.deps.store.leases.release(leaseName(pipelineId), holder, false);
    }
  }

  /**
   * A dry run: what the next cycle would create, update, link and delete, per person and field, with nothing
   * written and no cursor moved. Holds the pipeline's lease meanwhile (409 while a cycle runs), so the answer is
   * not a cycle's half-way state.
   */
  async plan(pipelineId: string): Promise<{ counts: RunCounts; changes: PlannedChange[]; warnings: string[] }> {
    const pipeline = await this.pipeline(pipelineId);
    const holder = await this.claim(pipelineId);
    if (!holder) throw await this.conflict(pipelineId);
    try {
      const logger = this.deps.logger.child({ pipelineId, dryRun: true });
      const controller = new AbortController();
      const sides = pipelineSides(pipeline, this.deps.connections);
      const mismatch = await verifyInstances(
        pipeline,
        sides,
        this.deps.connections,
        this.deps.pipelines,
        controller.signal,
      );
      if (mismatch) throw new TandemError('CONFLICT', mismatch, { status: 409 });
      const policies = activePolicies(this.deps.policies, await this.deps.policySettings.list(pipelineId), logger);
      const planned = await planPipeline(pipeline, this.deps.connections, controller.signal);
      const cycle = new SyncCycle({
        pipelineId,
        runId: 'dry-run',
        store: this.deps.store,
        sides: planned.sides,
        plan: planned.plan,
        resolveCollision: policies.resolveCollision,
        onRejected: () => 'continue',
        logger,
        signal: controller.signal,
        dryRun: true,
        report: async () => undefined,
      });
      const outcome = await cycle.run(await this.deps.store.cursors.load(pipelineId));
      if (outcome.status === 'failed') {
        throw new TandemError('CONNECTOR_REQUEST', `The plan could not be made: ${outcome.error ?? 'unknown'}`, {
          status: 502,
        });
      }
      return {
        counts: { ...emptyCounts(), ...cycle.counts },
        changes: cycle.planned,
        warnings: [...planned.warnings, ...cycle.warnings, ...(outcome.error ? [outcome.error] : [])],
      };
    } finally {
      this.busy.delete(pipelineId);
      await this.deps.store.leases.release(leaseName(pipelineId), holder, false);
    }
  }

  /** Pipelines that cannot run, and why (a connection answering as another instance), for `/ready`. */
  pipelineStatus(): Array<{ id: string; ready: boolean; reason?: string }> {
    return [...this.blocked].map(([id, reason]) => ({ id, ready: false, reason }));
  }

  // ---- people ----------------------------------------------------------------------------------------

  async push(pipelineId: string, request: PushRequest): Promise<PushOutcome> {
    const pipeline = await this.pipeline(pipelineId);
    const { sides, plan } = await planPipeline(pipeline, this.deps.connections);
    return pushPerson({ pipelineId, store: this.deps.store, sides, plan }, request);
  }

  /** Flags people for the next cycle to compare and write again (resync); answers how many were found. */
  async resync(
    pipelineId: string,
    people: { side: SideKey; recordIds: readonly string[] } | { emails: readonly string[] },
  ): Promise<number> {
    await this.pipeline(pipelineId);
    return this.deps.store.links.markResync(pipelineId, people);
  }

  links(pipelineId: string, query: Parameters<SyncStore['links']['find']>[1], limit: number): Promise<LinkDoc[]> {
    return this.deps.store.links.find(pipelineId, query, limit);
  }

  activity(
    pipelineId: string,
    query: Parameters<SyncStore['activity']['list']>[1],
    limit: number,
  ): Promise<ActivityDoc[]> {
    return this.deps.store.activity.list(pipelineId, query, limit);
  }

  /** The analysis of `mappings` (the pipeline's own by default) against both sides' fields. */
  analyze(pipeline: Pipeline, mappings = pipeline.mappings): ReturnType<typeof analyzePipeline> {
    pipelineSides(pipeline, this.deps.connections);
    return analyzePipeline(pipeline, this.deps.connections, mappings);
  }

  // ---- cycles --------------------------------------------------------------------------------------

  private async pipeline(pipelineId: string): Promise<Pipeline> {
    const pipeline = await this.deps.pipelines.get(pipelineId);
    if (!pipeline) throw new TandemError('NOT_FOUND', `Pipeline "${pipelineId}" does not exist.`, { status: 404 });
    return pipeline;
  }

  /**
   * Takes the pipeline's cycle lease for one cycle, or answers null when a cycle holds it (here or on another
   * instance). The pipeline is marked busy in this process before the first await, so requests arriving
   * together cannot both pass; the lease, held under a name of its own for this cycle, keeps out every other
   * cycle, this instance's included. Whoever gets a holder must `launch` it (or give it back).
   */
  private async claim(pipelineId: string, minGapMs = 0): Promise<string | null> {
    if (this.stopped || this.busy.has(pipelineId)) return null;
    this.busy.add(pipelineId);
    const holder = `${this.deps.instanceId}/${randomUUID()}`;
    try {
      if (await this.deps.store.leases.acquire(leaseName(pipelineId), holder, this.leaseTtlMs, minGapMs)) return holder;
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
      return await this.deps.store.runs.create(pipelineId, trigger, this.deps.instanceId, emptyCounts());
    } catch (error) {
      this.busy.delete(pipelineId);
      await this.deps.store.leases.release(leaseName(pipelineId), holder, false).catch(() => undefined);
      throw error;
    }
  }

  /** 409 naming the run in progress, so a client can follow it instead. */
  private async conflict(pipelineId: string): Promise<TandemError> {
    // A store that does not answer is said as such (a 503), not as a conflict it cannot see.
    const current = await this.deps.store.runs.running(pipelineId).catch((error: unknown) => {
      if (isStoreUnavailable(error)) throw error;
      return null;
    });
    return new TandemError(
      'CONFLICT',
      `A cycle of pipeline "${pipelineId}" is already running${current ? ` (run ${current._id})` : ''}.`,
      { status: 409, ...(current ? { details: { problem: { runId: current._id } } } : {}) },
    );
  }

  /** One scheduler tick: run a cycle if the lease, the interval and the pause switch allow; when to look again. */
  private async tick(pipelineId: string): Promise<{ nextInMs: number }> {
    const pipeline = await this.deps.pipelines.get(pipelineId);
    if (!pipeline) return { nextInMs: 60_000 };
    const intervalMs = Math.max(1, (pipeline.schedule.intervalMinutes ?? this.deps.intervalMinutes) * 60_000);
    if (this.stopped || pipeline.paused || this.busy.has(pipelineId)) return { nextInMs: Math.min(intervalMs, 60_000) };
    const holder = await this.claim(pipelineId, intervalMs);
    if (holder) {
      const run = await this.createRun(pipelineId, 'schedule', holder);
      await this.launch(pipeline, run, holder);
      return { nextInMs: intervalMs };
    }
    // Someone else holds the lease, or the last cycle (maybe another instance's) ended less than an interval ago.
    const current = await this.deps.store.leases.get(leaseName(pipelineId));
    const now = Date.now();
    const waits = [100];
    if (current?.lastFinishedAt) waits.push(current.lastFinishedAt.getTime() + intervalMs - now);
    if (current && !current.holder.startsWith(`${this.deps.instanceId}/`))
      waits.push(current.expiresAt.getTime() - now);
    return { nextInMs: Math.min(intervalMs, Math.max(...waits)) };
  }

  /**
   * Runs a cycle of `pipeline` under the lease the caller claimed. Never rejects: a cycle's failure is its
   * run's status, and a store that fails meanwhile is logged.
   */
  private launch(pipeline: Pipeline, run: RunDoc, holder: string): Promise<void> {
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
    this.running.set(pipelineId, { controller, done, runId: run._id });
    return done;
  }

  /**
   * Writes a run's end: false when another instance declared it interrupted meanwhile. While MongoDB does not
   * answer (the outage that may have ended the cycle), it tries again every 2 s, the pipeline still busy here, so
   * that the run says what happened once the store is back; left `running`, it would later be taken for a dead
   * instance's run and marked interrupted. Shutdown ends the waiting at once (the run is then left as it is).
   */
  private async recordEnd(
    runId: string,
    end: Parameters<SyncStore['runs']['finish']>[1],
    logger: Logger,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        const finish = this.deps.store.runs.finish(runId, end);
        return attempt === 0 ? await finish : await Promise.race([finish, this.stopping]);
      } catch (error) {
        if (this.stopped && attempt > 0) {
          logger.warn('Tandem is stopping before MongoDB answered: the run is left as it is');
          return true;
        }
        if (this.stopped || !isStoreUnavailable(error)) throw error;
        if (attempt === 0)
          logger.warn({ err: error }, "MongoDB does not answer: the run's end is written once it does");
        const pause = new Promise((resolve) => setTimeout(resolve, RECORD_END_RETRY_MS).unref());
        await Promise.race([pause, this.stopping]).catch(() => undefined);
      }
    }
  }

  private async execute(pipeline: Pipeline, run: RunDoc, controller: AbortController, holder: string): Promise<void> {
    const pipelineId = pipeline.id;
    const { store } = this.deps;
    const logger = this.deps.logger.child({ pipelineId, runId: run._id });
    const started = Date.now();
    const counts: Record<string, number> = { ...run.counts };
    /** What `tandem_sync_records_total` has been given so far for this run, by outcome. */
    const counted: Record<string, number> = {};
    let cycle: SyncCycle | undefined;
    const progress = () => ({
      counts: { ...emptyCounts(), ...(cycle ? addUp(counts, cycle.counts) : counts) },
      ...(cycle ? { sides: cycle.sides } : {}),
    });
    // Heartbeat: keeps the lease and tells other instances this run is alive; a lost lease stops the cycle.
    const heartbeat = setInterval(
      () => {
        void store.leases.renew(leaseName(pipelineId), holder, this.leaseTtlMs).then(
          (held) => {
            if (!held) controller.abort(new Error('The cycle lease was lost to another instance'));
          },
          (error: unknown) => logger.warn({ err: error }, 'lease renewal failed'),
        );
        void store.runs.update(run._id, progress()).catch(() => undefined);
      },
      Math.max(50, Math.floor(this.leaseTtlMs / 3)),
    );
    heartbeat.unref();
    let status: RunDoc['status'] = 'failed';
    let error: string | undefined;
    let warnings: string[] = [];
    try {
      const orphans = await store.runs.interruptOrphans(pipelineId, run._id);
      if (orphans > 0) logger.warn({ runs: orphans }, 'runs of an instance that died are marked interrupted');
      logger.info({ trigger: run.trigger }, 'sync cycle started');
      const sides = pipelineSides(pipeline, this.deps.connections);
      const mismatch = await verifyInstances(
        pipeline,
        sides,
        this.deps.connections,
        this.deps.pipelines,
        controller.signal,
      );
      if (mismatch) {
        this.blocked.set(pipelineId, mismatch);
        logger.error(mismatch);
        throw new TandemError('CONFLICT', mismatch, { status: 409 });
      }
      this.blocked.delete(pipelineId);
      const policies = activePolicies(this.deps.policies, await this.deps.policySettings.list(pipelineId), logger);
      // A field deleted in a system since it was last described fails the streams that read or write it: the
      // cycle is planned again from fresh descriptions (without that field) and run once more.
      for (let attempt = 0; ; attempt++) {
        const planned = await planPipeline(pipeline, this.deps.connections, controller.signal);
        if (planned.warnings.length > 0) {
          logger.warn({ warnings: planned.warnings }, 'some mapped fields do not sync');
          await store.runs.update(run._id, { warnings: planned.warnings });
          warnings = planned.warnings;
        }
        if (cycle) addCounts(counts, cycle.counts);
        cycle = new SyncCycle({
          pipelineId,
          runId: run._id,
          store,
          sides: planned.sides,
          plan: planned.plan,
          resolveCollision: policies.resolveCollision,
          onRejected: policies.onRejected,
          logger,
          signal: controller.signal,
          report: async ({ text }) => {
            const now = progress();
            // The record counters move as each write set is saved, not only when the cycle ends.
            this.countRecords(pipelineId, now.counts, counted);
            await store.runs.update(run._id, { ...now, progress: text });
          },
        });
        const outcome = await cycle.run(await store.cursors.load(pipelineId));
        warnings = [...warnings, ...cycle.warnings];
        status = outcome.status;
        error = outcome.error;
        if (!outcome.fieldsChanged || attempt > 0) break;
        logger.warn({ error }, 'a mapped field no longer exists; describing both sides again');
        for (const side of [planned.sides.left, planned.sides.right])
          this.deps.connections.forgetDescriptions(side.connection);
      }
    } catch (caught) {
      status = controller.signal.aborted ? 'interrupted' : 'failed';
      error = caught instanceof Error ? caught.message : String(caught);
      if (status === 'failed') logger.error({ err: caught }, 'sync cycle failed');
    } finally {
      clearInterval(heartbeat);
    }
    const final = progress();
    const end = { status, ...final, error, ...(warnings.length > 0 ? { warnings } : {}) };
    if (!(await this.recordEnd(run._id, end, logger))) {
      logger.warn({ status }, 'this run was declared interrupted by another instance meanwhile; its status stays');
    }
    await store.leases.release(leaseName(pipelineId), holder, status !== 'interrupted');
    const seconds = (Date.now() - started) / 1000;
    if (this.metrics) {
      this.metrics.cycles.inc({ status, pipeline: pipelineId });
      this.metrics.duration.observe({ status, pipeline: pipelineId }, seconds);
      this.countRecords(pipelineId, final.counts, counted);
      if (status === 'succeeded') this.metrics.lastSuccess.set({ pipeline: pipelineId }, Date.now() / 1000);
    }
    logger.info({ status, counts: final.counts, seconds, ...(error ? { error } : {}) }, 'sync cycle finished');
    const ended: RunDoc = {
      ...run,
      status,
      ...final,
      finishedAt: new Date(),
      ...(error ? { error } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    for (const listener of this.runEndListeners) {
      try {
        listener(ended);
      } catch (caught) {
        logger.error({ err: caught }, 'a run-end listener failed');
      }
    }
  }

  /** Adds to `tandem_sync_records_total` what `counts` holds beyond what `counted` says was added already. */
  private countRecords(pipelineId: string, counts: Record<string, number>, counted: Record<string, number>): void {
    if (!this.metrics) return;
    for (const [outcome, n] of Object.entries(counts)) {
      const delta = n - (counted[outcome] ?? 0);
      if (delta <= 0) continue;
      this.metrics.records.inc({ outcome, pipeline: pipelineId }, delta);
      counted[outcome] = n;
    }
  }
}

/** How often a run's end is written again while MongoDB does not answer. */
const RECORD_END_RETRY_MS = 2000;

function addUp(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  addCounts(sum, b);
  return sum;
}
