/** Test harness for the sandbox on its own: a started sandbox and raw HTTPS calls that trust its private CA. */
import { Agent, request } from 'undici';
import { DataverseSandbox, type DataverseSandboxOptions, type StartedSandbox } from '../src';

export interface SandboxHarness {
  sandbox: DataverseSandbox;
  started: StartedSandbox;
  http(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: string },
  ): Promise<{ status: number; headers: Record<string, string>; text: string }>;
  token(kind?: 'app' | 'ropc'): Promise<string>;
  close(): Promise<void>;
}

export async function startSandbox(options: DataverseSandboxOptions = {}): Promise<SandboxHarness> {
  const sandbox = new DataverseSandbox(options);
  const started = await sandbox.start();
  const agent = new Agent({ connect: { ca: started.caPem } });
  const http: SandboxHarness['http'] = async (method, path, opts = {}) => {
    const res = await request(`${started.url}${path}`, {
      method: method as 'GET',
      headers: opts.headers,
      body: opts.body,
      dispatcher: agent,
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
    return { status: res.statusCode, headers, text: await res.body.text() };
  };
  return {
    sandbox,
    started,
    http,
    async token(kind = 'app') {
      const form = new URLSearchParams({
        client_id: started.clientId,
        client_secret: started.clientSecret,
        scope: `${started.url}/.default`,
        grant_type: kind === 'app' ? 'client_credentials' : 'password',
        ...(kind === 'ropc' ? { username: started.username, password: started.password } : {}),
      });
      const r = await http('POST', `/${started.tenantId}/oauth2/v2.0/token`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      return (JSON.parse(r.text) as { access_token: string }).access_token;
    },
    async close() {
      await agent.close();
      await started.close();
    },
  };
}
