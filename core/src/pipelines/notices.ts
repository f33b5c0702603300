/**
 * Change notices (`POST /v1/pipelines/:id/notify`, from a Dataverse webhook, a Marketo flow or any caller) start
 * an incremental cycle within seconds, debounced: the first notice opens a window of `windowMs`, notices within
 * it are part of it, and one cycle starts when it closes. A notice while a cycle of the pipeline runs starts one
 * more cycle after it (however many come meanwhile): the running cycle may have read its feeds before the change.
 * Cycles started so carry `trigger: 'notify'`.
 */
import type { Logger } from 'pino';
import { isTandemError } from '../plugin';
import type { RunDoc } from '../repositories/sync-store';

/** What became of a notice: a cycle is due when the window closes, it joined one, or it waits for a running cycle. */
export type NoticeOutcome = 'scheduled' | 'coalesced' | 'after-run';

export interface NoticesDeps {
  /** Starts a cycle now (`SyncRuntime.forceRun(id, 'notify')`): a 409 while one runs anywhere. */
  start(pipelineId: string): Promise<{ runId: string }>;
  /** Whether this instance is running a cycle of the pipeline. */
  running(pipelineId: string): boolean;
  logger: Logger;
  /** The debounce window (default 2 s). */
  windowMs?: number;
  /** While another instance runs the pipeline's cycle, how often to try again (default 5 s), for up to `giveUpMs`. */
  retryMs?: number;
  giveUpMs?: number;
}

interface PipelineNotices {
  /** A start is due when this fires. */
  timer?: NodeJS.Timeout;
  /** A cycle was running when a notice came: start one more when it ends. */
  afterRun: boolean;
  /** Since when starts have met a cycle of another instance. */
  blockedSince?: number;
}

export class Notices {
  private readonly pipelines = new Map<string, PipelineNotices>();
  readonly windowMs: number;
  private readonly retryMs: number;
  private readonly giveUpMs: number;
  private stopped = false;

  constructor(private readonly deps: NoticesDeps) {
    this.windowMs = deps.windowMs ?? 2000;
    this.retryMs = deps.retryMs ?? 5000;
    this.giveUpMs = deps.giveUpMs ?? 15 * 60_000;
  }

  notice(pipelineId: string): NoticeOutcome {
    const state = this.state(pipelineId);
    if (state.timer) return 'coalesced';
    if (this.deps.running(pipelineId)) {
      if (state.afterRun) return 'coalesced';
      state.afterRun = true;
      return 'after-run';
    }
    this.due(pipelineId, state, this.windowMs);
    return 'scheduled';
  }

  /** A run-end listener: a cycle that ended with notices waiting for it is followed by one more. */
  readonly runEnded = (run: RunDoc): void => {
    const state = this.pipelines.get(run.pipelineId);
    if (!state?.afterRun) return;
    state.afterRun = false;
    clearTimeout(state.timer);
    // Not at once: the runtime lets go of the pipeline only once its listeners have been told.
    this.due(run.pipelineId, state, 0);
  };

  stop(): void {
    this.stopped = true;
    for (const state of this.pipelines.values()) clearTimeout(state.timer);
    this.pipelines.clear();
  }

  private state(pipelineId: string): PipelineNotices {
    let state = this.pipelines.get(pipelineId);
    if (!state) this.pipelines.set(pipelineId, (state = { afterRun: false }));
    return state;
  }

  private due(pipelineId: string, state: PipelineNotices, inMs: number): void {
    if (this.stopped) return;
    state.timer = setTimeout(() => void this.fire(pipelineId, state), inMs);
    state.timer.unref();
  }

  private async fire(pipelineId: string, state: PipelineNotices): Promise<void> {
    state.timer = undefined;
    if (this.stopped) return;
    try {
      const { runId } = await this.deps.start(pipelineId);
      state.blockedSince = undefined;
      this.deps.logger.info({ pipelineId, runId }, 'cycle started on change notices');
    } catch (error) {
      if (isTandemError(error) && error.status === 409) {
        // A cycle runs (here: its end starts ours; on another instance: try again until it ends).
        state.afterRun = true;
        state.blockedSince ??= Date.now();
        if (this.deps.running(pipelineId)) return;
        if (Date.now() - state.blockedSince < this.giveUpMs) return this.due(pipelineId, state, this.retryMs);
        this.deps.logger.warn({ pipelineId }, 'change notices dropped: another instance kept the pipeline busy');
      } else {
        this.deps.logger.warn({ pipelineId, err: error }, 'change notices could not start a cycle');
      }
      state.afterRun = false;
      state.blockedSince = undefined;
      this.pipelines.delete(pipelineId);
    }
  }
}
