/**
 * A bare HTTP server answering canned, documented Salesforce answers, for the variants the documentation allows and
 * the sandbox does not produce (an `instance_url` on another host, a job that failed midway, result files with
 * their columns in another order...). Each test gives the answers; the server records every request.
 */
import 'reflect-metadata';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { container } from 'tsyringe';
import { PluginTokens } from '@tandem/core/plugin';
import salesforceConnector, { type SalesforceConfig, type SalesforceConnector } from '../src/index';
import { FAST } from './helpers';

export interface FakeRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeAnswer {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as it is (with `headers`), anything else as JSON. */
  body?: unknown;
}

export interface FakeOrg {
  url: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

export const ORG_ID = '00D000000000001EAA';
export const USER_ID = '005000000000001AAA';

/** Starts a server; `answer` answers each request (undefined: 404 with Salesforce's NOT_FOUND array). */
export async function startFakeOrg(answer: (req: FakeRequest) => FakeAnswer | undefined): Promise<FakeOrg> {
  const requests: FakeRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: FakeRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      const a = answer(request) ?? {
        status: 404,
        body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
      };
      const text = typeof a.body === 'string' ? a.body : a.body === undefined ? '' : JSON.stringify(a.body);
      const headers =
        typeof a.body === 'string' || a.body === undefined
          ? { ...a.headers }
          : { 'content-type': 'application/json;charset=UTF-8', ...a.headers };
      res.writeHead(a.status ?? 200, headers);
      res.end(text);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** The client-credentials answer as documented: no `expires_in`, the identity URL on the login host. */
export function tokenAnswer(instanceUrl: string): FakeAnswer {
  return {
    body: {
      access_token: `${ORG_ID}!token`,
      signature: 'c2lnbmF0dXJl',
      scope: 'api',
      instance_url: instanceUrl,
      id: `https://login.salesforce.com/id/${ORG_ID}/${USER_ID}`,
      token_type: 'Bearer',
      issued_at: '1733532000000',
    },
  };
}

/** A describe of Contact with a few fields, as the integration user sees it. */
export const CONTACT_DESCRIBE: FakeAnswer = {
  body: {
    name: 'Contact',
    keyPrefix: '003',
    fields: [
      { name: 'Id', type: 'id', length: 18, createable: false, updateable: false, nillable: false },
      { name: 'FirstName', type: 'string', length: 40, createable: true, updateable: true, nillable: true },
      { name: 'LastName', type: 'string', length: 80, createable: true, updateable: true, nillable: false },
      { name: 'Email', type: 'email', length: 80, createable: true, updateable: true, nillable: true },
      { name: 'IsDeleted', type: 'boolean', createable: false, updateable: false, nillable: false },
      { name: 'SystemModstamp', type: 'datetime', createable: false, updateable: false, nillable: false },
      { name: 'LastModifiedDate', type: 'datetime', createable: false, updateable: false, nillable: false },
    ],
  },
};

/** A Contact row as SOQL answers it. */
export function contactRow(id: string, email: string, lastName: string): Record<string, unknown> {
  return {
    attributes: { type: 'Contact', url: `/services/data/v63.0/sobjects/Contact/${id}` },
    Id: id,
    Email: email,
    LastName: lastName,
    FirstName: null,
    IsDeleted: false,
    SystemModstamp: '2026-12-01T10:00:00.000+0000',
    LastModifiedDate: '2026-12-01T10:00:00.000+0000',
  };
}

/** A connector configured for `url` with the client-credentials flow. */
export function fakeConnector(url: string, overrides: Partial<SalesforceConfig> = {}): SalesforceConnector {
  const child = container.createChildContainer();
  child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
  child.register(PluginTokens.Config, {
    useValue: { url, clientId: 'client-id', clientSecret: 'client-secret', limits: FAST, ...overrides },
  });
  child.register(PluginTokens.Metrics, { useValue: new Registry() });
  salesforceConnector.register(child);
  return child.resolve<SalesforceConnector>(PluginTokens.Connector);
}

/** Path without the query. */
export function pathOf(req: FakeRequest): string {
  return req.path.split('?')[0] ?? req.path;
}
