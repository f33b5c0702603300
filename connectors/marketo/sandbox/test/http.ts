/** Plain HTTP against a sandbox (no connector): what the tests of the documented protocol speak. */
import assert from 'node:assert/strict';
import type { MarketoSandbox } from '../src';

export interface Answer {
  status: number;
  type: string;
  text: string;
  json: Record<string, unknown>;
}

export class Client {
  token = '';

  constructor(
    readonly url: string,
    readonly sandbox: MarketoSandbox,
  ) {}

  async http(method: string, path: string, body?: unknown, auth = true): Promise<Answer> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(auth ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return {
      status: response.status,
      type: String(response.headers.get('content-type')),
      text,
      json: json as Record<string, unknown>,
    };
  }

  identity(clientId = this.sandbox.clientId, clientSecret = this.sandbox.clientSecret): Promise<Answer> {
    return this.http(
      'GET',
      `/identity/oauth/token?grant_type=client_credentials&client_id=${clientId}&client_secret=${clientSecret}`,
      undefined,
      false,
    );
  }

  async authenticate(): Promise<void> {
    this.token = String((await this.identity()).json.access_token);
  }
}

export function assertEnvelope(body: Record<string, unknown>, success: boolean): void {
  assert.equal(typeof body.requestId, 'string');
  assert.match(String(body.requestId), /^[0-9a-f]+#[0-9a-f]+$/);
  assert.equal(body.success, success);
  if (!success) {
    assert.ok(Array.isArray(body.errors));
    const [error] = body.errors as Array<Record<string, unknown>>;
    assert.equal(typeof error?.code, 'string', 'error codes are strings holding integers');
    assert.equal(typeof error?.message, 'string');
  }
}

export const errorCode = (body: Record<string, unknown> | undefined) =>
  (body?.errors as Array<{ code: string }> | undefined)?.[0]?.code;

export const results = (answer: Answer) => (answer.json.result ?? []) as Array<Record<string, unknown>>;
