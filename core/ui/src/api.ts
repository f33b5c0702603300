/**
 * The dashboard's only way to data: the REST API with `Authorization: Bearer <token>`.
 *
 * The token is kept in `sessionStorage`: entered once per browser tab session, gone when the tab closes, readable
 * by this origin's scripts only (and the page's Content-Security-Policy admits no script but its own). It is never
 * put in a URL (the page's routes live in the fragment and carry no secret) nor in a cookie, so no other origin
 * can read it and no request carries it unless this code adds it.
 */
import type { Problem } from './types.js';

const TOKEN_KEY = 'tandem.token';

export const token = {
  get(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(value: string): void {
    sessionStorage.setItem(TOKEN_KEY, value);
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** An answer other than 2xx, with its problem+json body when it has one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `The API answered ${status}`);
    this.name = 'ApiError';
  }
}

/** Called when the API refuses the stored token (it changed, or the server restarted with a new one). */
let onRefused: () => void = () => undefined;
export function whenTokenRefused(handler: () => void): void {
  onRefused = handler;
}

function headers(bearer: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${bearer}`, ...extra };
}

async function send(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  const bearer = token.get();
  if (!bearer) {
    onRefused();
    throw new ApiError(401, { title: 'Unauthorized', detail: 'Enter the API token first' });
  }
  const response = await fetch(path, {
    method,
    headers: headers(bearer, body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  if (response.ok) return response;
  const problem = await problemOf(response);
  if (response.status === 401) {
    token.clear();
    onRefused();
  }
  throw new ApiError(response.status, problem);
}

async function problemOf(response: Response): Promise<Problem> {
  try {
    return (await response.json()) as Problem;
  } catch {
    return { status: response.status, title: response.statusText };
  }
}

/** A JSON call; the answer as `T` (the API's schemas say what each route answers). */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await send(method, path, body, signal);
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> => api<T>('GET', path, undefined, signal);

/** A download (the CSV export): fetched with the token, then handed to the browser as a file. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const response = await send('GET', path, undefined);
  const disposition = response.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Whether the API takes `candidate` (asked before it is kept). */
export async function tokenAccepted(candidate: string): Promise<boolean> {
  const response = await fetch('/v1/plugins', {
    headers: headers(candidate),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  if (response.status === 401) return false;
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return true;
}

/** A path segment or query value, escaped. */
export const enc = encodeURIComponent;
