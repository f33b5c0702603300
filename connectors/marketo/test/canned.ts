/**
 * A bare HTTP server answering with canned Marketo answers, for the variants Adobe's documentation allows and the
 * sandbox does not produce (a Swagger shape where the prose shows another, a field left out). It is not a
 * simulator: each test names the answers it needs; the token endpoint and Describe2 answer by default.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MarketoConfig } from '../src/config';
import type { MarketoConnector } from '../src/connector';
import { resolveConnector } from './helpers';

export interface CannedRequest {
  method: string;
  /** The path without the query, e.g. `/rest/v1/leads.json`. */
  path: string;
  /** The query, or for a POST with `_method=GET` the form-encoded body. */
  query: URLSearchParams;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface CannedAnswer {
  status?: number;
  /** An object is sent as JSON; a string as it is. */
  body?: unknown;
}

export interface CannedServer {
  url: string;
  requests: CannedRequest[];
  /** The requests to `path` (REST paths as `/rest/v1/...`). */
  to(path: string): CannedRequest[];
  connect(overrides?: Partial<MarketoConfig>): MarketoConnector;
  close(): Promise<void>;
}

export const TOKEN = {
  access_token: 'cdf01657-110d-4155-99a7-f986b2ff13a0:int',
  token_type: 'bearer',
  expires_in: 3599,
  scope: 'apis@example.com',
};

/** Describe2 as the Swagger's LeadAttribute2 model has it (name, displayName, dataType, updateable, crmManaged). */
export const DESCRIBE2 = {
  requestId: 'd#1',
  success: true,
  result: [
    {
      name: 'API Lead',
      searchableFields: [['email'], ['id']],
      fields: ['id', 'email', 'firstName', 'lastName', 'title', 'createdAt', 'updatedAt'].map((name) => ({
        name,
        displayName: name,
        dataType: name === 'email' ? 'email' : name.endsWith('At') ? 'datetime' : name === 'id' ? 'integer' : 'string',
        updateable: !['id', 'createdAt', 'updatedAt'].includes(name),
        crmManaged: false,
      })),
    },
  ],
};

/**
 * `answer` is asked first for every request; `undefined` falls back to a token for the token endpoint, Describe2
 * for `describe2.json`, else 404.
 */
export async function startCanned(answer: (req: CannedRequest) => CannedAnswer | undefined): Promise<CannedServer> {
  const requests: CannedRequest[] = [];
  const connectors: MarketoConnector[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://canned');
      const body = Buffer.concat(chunks).toString('utf8');
      const query = url.searchParams.get('_method') === 'GET' ? new URLSearchParams(body) : url.searchParams;
      const request: CannedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query,
        body,
        headers: req.headers,
      };
      requests.push(request);
      const fallback: CannedAnswer =
        request.path === '/identity/oauth/token'
          ? { body: TOKEN }
          : request.path === '/rest/v1/leads/describe2.json'
            ? { body: DESCRIBE2 }
            : { status: 404, body: 'not canned' };
      const { status = 200, body: out } = answer(request) ?? fallback;
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(typeof out === 'string' ? out : JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    connect(overrides = {}) {
      const connector = resolveConnector({
        baseUrl: url,
        clientId: 'the-client-id',
        clientSecret: 'the-client-secret',
        maxAttempts: 3,
        backoff: { baseMs: 1, maxMs: 5 },
        ...overrides,
      });
      connectors.push(connector);
      return connector;
    },
    async close() {
      await Promise.all(connectors.map((c) => c.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
