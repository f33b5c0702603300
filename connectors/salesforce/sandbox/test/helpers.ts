/**
 * Tests drive the sandbox over HTTPS the way a client following the documentation would: plain `fetch` (undici)
 * trusting the sandbox's private CA, a token from the token endpoint, then the REST API.
 */
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { startSalesforceSandbox, type RunningSalesforceSandbox, type SalesforceSandbox } from '../src/index';

export interface Org {
  running: RunningSalesforceSandbox;
  sandbox: SalesforceSandbox;
  /** `/services/data/<version>` */
  base: string;
  /** A request to a path under the org's URL (with the current token unless `auth: false`). */
  call(path: string, init?: RequestInit & { auth?: boolean; json?: unknown }): Promise<Response>;
  /** A request whose JSON answer is returned with its status. */
  json<T = unknown>(
    path: string,
    init?: RequestInit & { auth?: boolean; json?: unknown },
  ): Promise<{ status: number; body: T; response: Response }>;
  token(): Promise<string>;
  /** Runs SOQL through `query` (or `queryAll`). */
  query<T = Record<string, unknown>>(
    soql: string,
    all?: boolean,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: QueryBody<T> }>;
  close(): Promise<void>;
}

export interface QueryBody<T> {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: Array<T & { attributes: { type: string; url: string } }>;
}

export interface ApiErrorBody {
  message: string;
  errorCode: string;
  fields?: string[];
}

export function form(values: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(values).toString(),
  };
}

export async function startOrg(options: Parameters<typeof startSalesforceSandbox>[0] = {}): Promise<Org> {
  const running = await startSalesforceSandbox(options);
  const agent = new Agent({ connect: { ca: running.caPem } });
  const url = running.env.SALESFORCE_URL ?? '';
  let accessToken: string | undefined;
  const token = async (): Promise<string> => {
    const res = await fetch(`${url}/services/oauth2/token`, {
      dispatcher: agent,
      ...form({
        grant_type: 'client_credentials',
        client_id: running.env.SALESFORCE_CLIENT_ID ?? '',
        client_secret: running.env.SALESFORCE_CLIENT_SECRET ?? '',
      }),
    });
    const body = (await res.json()) as { access_token: string };
    accessToken = body.access_token;
    return accessToken;
  };
  const call: Org['call'] = async (path, init = {}) => {
    const { auth = true, json, ...rest } = init;
    const headers: Record<string, string> = { ...(rest.headers as Record<string, string> | undefined) };
    if (auth) headers.authorization = `Bearer ${accessToken ?? (await token())}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    return fetch(`${url}${path}`, {
      dispatcher: agent,
      ...rest,
      headers,
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
  };
  const jsonCall: Org['json'] = async <T>(path: string, init?: RequestInit & { auth?: boolean; json?: unknown }) => {
    const response = await call(path, init);
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T, response };
  };
  const base = `/services/data/${running.env.SALESFORCE_API_VERSION}`;
  return {
    running,
    sandbox: running.sandbox,
    base,
    call,
    json: jsonCall,
    token,
    query: async <T>(soql: string, all = false, headers: Record<string, string> = {}) => {
      const r = await jsonCall<QueryBody<T>>(`${base}/${all ? 'queryAll' : 'query'}?q=${encodeURIComponent(soql)}`, {
        headers,
      });
      return { status: r.status, body: r.body };
    },
    close: async () => {
      await running.close();
      await agent.close();
    },
  };
}
