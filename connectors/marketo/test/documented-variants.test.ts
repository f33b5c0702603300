/**
 * Answers Adobe's documentation allows that the sandbox does not give: the connector must take each of them. Every
 * test drives a bare server with canned answers (see `canned.ts`) and names the page that allows the variant.
 */
import 'reflect-metadata';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectorAuthError } from '@tandem/core/plugin';
import { startCanned, type CannedAnswer, type CannedRequest, type CannedServer } from './canned';
import { collect } from './helpers';

let server: CannedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function canned(answer: (req: CannedRequest) => CannedAnswer | undefined): Promise<CannedServer> {
  server = await startCanned(answer);
  return server;
}

const ok = (result: unknown[], more: Record<string, unknown> = {}) => ({
  body: { requestId: 'r#1', success: true, result, ...more },
});

test("Sync Leads: a skipped record's reason as the Swagger's single `reason` object is read like `reasons`", async () => {
  // https://developer.adobe.com/marketo-apis/api/mapi (model "Lead": `reason`, a Reason object).
  const s = await canned((req) =>
    req.method === 'POST' && req.path === '/rest/v1/leads.json'
      ? ok([{ status: 'skipped', reason: { code: '1005', message: 'Lead already exists' } }])
      : undefined,
  );
  const [result] = await s.connect().write('lead', [{ kind: 'create', ref: 'a', fields: { email: 'a@example.com' } }]);
  assert.deepEqual(result, { ref: 'a', status: 'rejected', code: '1005', message: 'Lead already exists' });
});

