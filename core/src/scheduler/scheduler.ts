/**
 * "Sync, wait N minutes, sync again" on node-schedule: each tick is armed only after the previous one ended,
 * so one scheduler never overlaps itself. Whether a tick may run a cycle (leases, several instances) is the
 * tick's business; it answers how long to wait before the next try.
 */
import schedule from 'node-schedule';
import type { Logger } from 'pino';

export interface TickResult {
  /** Milliseconds until the next tick. */
  nextInMs: number;
}

export class LoopScheduler {
  private job: schedule.Job | null = null;
  private stopped = false;
  private current: Promise<void> | null = null;

  constructor(
    private readonly name: string,
    private readonly tick: () => Promise<TickResult>,
    private readonly logger: Logger,
    private readonly fallbackMs: number,
  ) {}

  start(firstInMs = 0): void {
    this.stopped = false;
    this.arm(firstInMs);
  }

  /** Stops arming ticks and waits for a tick in progress to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.job?.cancel();
    this.job = null;
    await this.current;
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    // node-schedule ignores dates in the past: always aim a little ahead.
    const at = new Date(Date.now() + Math.max(20, delayMs));
    this.job = schedule.scheduleJob(`${this.name}:${at.getTime()}`, at, () => {
      this.current = this.fire();
    });
  }

  private async fire(): Promise<void> {
    let next = this.fallbackMs;
    try {
      next = (await this.tick()).nextInMs;
    } catch (error) {
      this.logger.error({ err: error, scheduler: this.name }, 'scheduled tick failed; trying again later');
    }
    this.arm(next);
  }
}
