/**
 * Connections: each configured connector plugin, by id, with the last answer of its `check()` (credentials,
 * permissions, and which instance of the system answered). `GET /ready`, the connection routes and the
 * engine's identity guard all read from here, so a connection is asked once and everyone sees the same answer.
 */
import type { Logger } from 'pino';
import { abortable, type CheckResult, type Connector, type ObjectDescription } from '../plugin';

export type ConnectionMode = 'live' | 'sandbox';

export interface ConnectionInfo {
  id: string;
  /** The connector plugin's id. */
  connector: string;
  mode: ConnectionMode;
  objectTypes: string[];
}

export interface CheckRecord extends CheckResult {
  checkedAt: Date;
}

/** How long a check may take before it counts as failed (an unreachable host must not hold up `/ready`). */
export const CHECK_TIMEOUT_MS = 20_000;

/** How long field descriptions are kept (they cost API calls; field security rarely changes). */
export const DESCRIBE_TTL_MS = 15 * 60_000;

export class Connections {
  private readonly checks = new Map<string, CheckRecord>();
  private readonly descriptions = new Map<string, { at: number; value: Promise<ObjectDescription> }>();

  constructor(
    private readonly connectors: ReadonlyMap<string, Connector>,
    private readonly mode: ConnectionMode,
    private readonly logger: Logger,
    private readonly describeTtlMs = DESCRIBE_TTL_MS,
  ) {}

  /**
   * A connection's description of an object type for its sync user, shared by every pipeline and the API and
   * kept for a while (a failed describe is not kept).
   */
  describe(id: string, objectType: string, signal?: AbortSignal): Promise<ObjectDescription> {
    const connector = this.connectors.get(id);
    if (!connector) return Promise.reject(new Error(`No connection "${id}"`));
    const key = `${id}|${objectType}`;
    const cached = this.descriptions.get(key);
    if (cached && Date.now() - cached.at < this.describeTtlMs) return cached.value;
    const value = connector.describe(objectType, signal);
    this.descriptions.set(key, { at: Date.now(), value });
    value.catch(() => this.descriptions.delete(key));
    return value;
  }

  /** Forgets the descriptions of `id` (all connections when not given): a field was deleted meanwhile. */
  forgetDescriptions(id?: string): void {
    for (const key of [...this.descriptions.keys()])
      if (id === undefined || key.startsWith(`${id}|`)) this.descriptions.delete(key);
  }

  list(): ConnectionInfo[] {
    return [...this.connectors].map(([id, c]) => ({
      id,
      connector: c.id,
      mode: this.mode,
      objectTypes: [...c.objectTypes],
    }));
  }

  get(id: string): Connector | undefined {
    return this.connectors.get(id);
  }

  has(id: string): boolean {
    return this.connectors.has(id);
  }

  /** Asks the connection now (bounded by CHECK_TIMEOUT_MS and `signal`) and remembers the answer. */
  async check(id: string, signal?: AbortSignal): Promise<CheckRecord> {
    const connector = this.connectors.get(id);
    if (!connector) return this.remember(id, { ok: false, message: `No connection "${id}"` });
    const timeout = AbortSignal.timeout(CHECK_TIMEOUT_MS);
    const bounded = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let result: CheckResult;
    try {
      // A connector that ignores its signal still cannot hold the caller past it.
      result = await abortable(connector.check(bounded), bounded);
    } catch (error) {
      if (signal?.aborted) throw error;
      const why = timeout.aborted
        ? `did not answer within ${CHECK_TIMEOUT_MS / 1000} s`
        : error instanceof Error
          ? error.message
          : String(error);
      result = { ok: false, message: `The ${id} connection check failed: ${why}` };
    }
    const record = this.remember(id, result);
    if (!record.ok) this.logger.warn({ connection: id, message: record.message }, `connection ${id} is not healthy`);
    return record;
  }

  /** Checks every connection at once (at start). */
  async checkAll(): Promise<void> {
    await Promise.all([...this.connectors.keys()].map((id) => this.check(id)));
  }

  last(id: string): CheckRecord | undefined {
    return this.checks.get(id);
  }

  /** Each connection's last check, for `/ready`. */
  status(): Array<{ id: string; ok: boolean; checkedAt?: string; message?: string; instance?: string }> {
    return [...this.connectors.keys()].map((id) => {
      const last = this.checks.get(id);
      if (!last) return { id, ok: true, message: 'not checked yet' };
      return {
        id,
        ok: last.ok,
        checkedAt: last.checkedAt.toISOString(),
        ...(last.message ? { message: last.message } : {}),
        ...(last.instance ? { instance: last.instance } : {}),
      };
    });
  }

  private remember(id: string, result: CheckResult): CheckRecord {
    const record = { ...result, checkedAt: new Date() };
    this.checks.set(id, record);
    return record;
  }
}
