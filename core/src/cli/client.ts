/**
 * The CLI's way to a running Tandem: its REST API at `TANDEM_URL` with the bearer token `TANDEM_API_TOKEN`.
 * Every failure becomes a `CliError` saying what to do: an unreachable server, a refused token, something not
 * found, or the problem+json details of any other refusal.
 */
import { CliError } from './errors';

export const DEFAULT_URL = 'http://127.0.0.1:3000';
/** Long enough for a dry run over a large backlog; a hung server still ends the command. */
const DEFAULT_TIMEOUT_MS = 300_000;

/** An application/problem+json answer. */
export interface Problem {
  status: number;
  code?: string;
  title?: string;
  detail?: string;
  errors?: Array<{ field: string; message: string }>;
  runId?: string;
}

export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(message);
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export class TandemClient {
  readonly url: string;

  constructor(
    url: string,
    private readonly token: string | undefined,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    this.url = url.replace(/\/+$/, '');
  }

  /** From the environment, as every command but `start` uses it. */
  static fromEnv(env: NodeJS.ProcessEnv, url?: string): TandemClient {
    const token = env['TANDEM_API_TOKEN']?.trim();
    return new TandemClient(url ?? env['TANDEM_URL']?.trim() ?? DEFAULT_URL, token ? token : undefined);
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path).then((r) => r.body);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body).then((r) => r.body);
  }

  /**
   * One request. Answers 2xx, and those of `accept` (a 503 from `/ready` still has a body worth reading); any
   * other status is an `ApiError`.
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    accept: readonly number[] = [],
  ): Promise<ApiResponse<T>> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new CliError(this.unreachable(error));
    }
    const text = await response.text().catch(() => '');
    const parsed = parseJson(text);
    if ((response.status >= 200 && response.status < 300) || accept.includes(response.status)) {
      return { status: response.status, body: parsed as T };
    }
    const problem: Problem = { status: response.status, ...(isObject(parsed) ? (parsed as Partial<Problem>) : {}) };
    throw new ApiError(this.refusal(method, path, problem), response.status, problem);
  }

  private unreachable(error: unknown): string {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
    const code = (cause as { code?: unknown } | undefined)?.code;
    if (error instanceof Error && error.name === 'TimeoutError') {
      return `Tandem at ${this.url} did not answer within ${Math.round(this.timeoutMs / 1000)} s.`;
    }
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'no such host'
          : typeof code === 'string'
            ? code
            : (cause?.message ?? (error instanceof Error ? error.message : String(error)));
    return `Cannot reach Tandem at ${this.url} (${why}). Is it running? Start it with \`tandem start\`, or point TANDEM_URL at it.`;
  }

  private refusal(method: string, path: string, problem: Problem): string {
    if (problem.status === 401) {
      return this.token
        ? `Tandem at ${this.url} refused the API token (401): set TANDEM_API_TOKEN to the server's admin token.`
        : `Tandem at ${this.url} needs an API token (401): set TANDEM_API_TOKEN to the server's admin token.`;
    }
    const detail = problem.detail ?? `${method} ${path} answered HTTP ${problem.status}`;
    const lines = [`${detail} (HTTP ${problem.status}${problem.code ? ` ${problem.code}` : ''})`];
    for (const e of problem.errors ?? []) lines.push(`  ${e.field}: ${e.message}`);
    return lines.join('\n');
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
