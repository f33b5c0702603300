/**
 * `secrets`: Tandem runs at log level `trace` against both sandboxes, which are given recognisable credentials,
 * through an initial sync and everything around it that makes a log talk: tokens expiring mid-run on both sides,
 * server errors and bodies that are not JSON, every route of the API (with the token, without, with a wrong
 * one), a dry run, a push, settings changed, then restarts with a wrong Marketo secret, a wrong Dataverse secret,
 * and the resource-owner password grant. Every API answer (headers and body) and every log line is scanned for
 * every secret: the credentials (right and wrong), the API token, every access token the sandboxes handed out,
 * each as it is, URL-encoded and in base64 (and the `id:secret` pair of a Basic header).
 */
import { info, must, zero, type Scenario } from '../report';
import { seedPeople } from '../population';
import { API_TOKEN, Systems } from '../system';
import { Tandem, type ApiAnswer } from '../tandem';

const PEOPLE = 100;
const MARKETO = { clientId: 'reliability-marketo-client-4a7e', clientSecret: 'MKTO-SECRET-reliability-7d3e91c4a0' };
const WRONG_MARKETO_SECRET = 'MKTO-WRONG-SECRET-reliability-e5b2';
const DATAVERSE = {
  clientSecret: 'DV-SECRET-reliability-b52f0e8a91',
  username: 'reliability.sync@contoso.onmicrosoft.com',
  password: 'DV-PASSWORD-reliability-1c6d42',
};
const WRONG_DATAVERSE_SECRET = 'DV-WRONG-SECRET-reliability-9f03';

interface Secret {
  name: string;
  value: string;
}

/** Each secret in the forms it may travel in. */
function forms(secrets: readonly Secret[]): Secret[] {
  return secrets.flatMap(({ name, value }) =>
    [...new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')])].map((form) => ({
      name,
      value: form,
    })),
  );
}

/** Every GET route of the OpenAPI document, its path parameters filled with ids that exist. */
async function everyGet(tandem: Tandem, runId: string): Promise<string[]> {
  const doc = await tandem.api<{ paths: Record<string, Record<string, unknown>> }>('GET', '/docs/json');
  const ids: Record<string, string> = {
    id: 'default',
    policyId: 'collision-authority',
    runId,
    connectionId: 'marketo',
  };
  return Object.entries(doc.body.paths)
    .filter(([, methods]) => 'get' in methods)
    .map(([path]) => path.replace(/\{(\w+)\}/g, (_m, name: string) => ids[name] ?? 'marketo'));
}

export const secrets: Scenario = {
  name: 'secrets',
  async run(context) {
    const systems = await Systems.start({
      marketo: MARKETO,
      dataverse: { clientSecret: DATAVERSE.clientSecret, username: DATAVERSE.username, password: DATAVERSE.password },
    });
    const answers: Array<{ what: string; text: string }> = [];
    const logs: string[] = [];
    const processes: Tandem[] = [];
    const keep = (what: string, answer: ApiAnswer<unknown>) => {
      const headers = [...answer.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
      answers.push({ what, text: `${headers}\n\n${answer.text}` });
      return answer;
    };
    const start = async (env: Record<string, string> = {}) => {
      const tandem = await Tandem.start(
        systems,
        systems.tandemEnv({ LOG_LEVEL: 'trace', TANDEM_SYNC_INTERVAL: '60', ...env }),
      );
      processes.push(tandem);
      return tandem;
    };
    const stop = async (tandem: Tandem) => {
      await tandem.terminate();
      logs.push(...tandem.output().split('\n'));
    };
    try {
      seedPeople(systems, PEOPLE);
      let tandem = await start();
      const call = async (method: string, path: string, body?: unknown, what = `${method} ${path}`) =>
        keep(what, await (tandem as Tandem).api(method, path, body));

      // A sync with everything that makes a log talk.
      await tandem.cycle();
      systems.marketo.expireTokens();
      systems.dataverse.expireTokens();
      systems.marketo.setFaults({ failEvery: { n: 5, code: 500 }, malformedEvery: 7 });
      systems.dataverse.injectFaults({ failEvery: 4, failStatus: 503, malformed: 2, malformedKind: 'html-502' });
      for (const p of systems.marketo.listPersons().slice(0, 20)) systems.marketo.editPerson(p.id, { city: 'Leaky' });
      await tandem.cycle();
      systems.marketo.setFaults({ failEvery: null, malformedEvery: null });
      systems.dataverse.clearFaults();
      const runs = await tandem.settle();

      // Every route, with the token, without it, with a wrong one.
      for (const path of await everyGet(tandem, runs.at(-1)?._id ?? 'none')) {
        await call('GET', path);
        keep(`GET ${path} (no token)`, await fetchRaw(tandem.url, path, undefined));
        keep(`GET ${path} (wrong token)`, await fetchRaw(tandem.url, path, `${API_TOKEN}-wrong`));
      }
      await call('POST', '/v1/connections/marketo/check');
      await call('POST', '/v1/connections/dynamics/check');
      const mappings = await call('GET', '/v1/pipelines/default/mappings');
      await call(
        'PUT',
        '/v1/pipelines/default/mappings',
        (mappings.body as { mappings?: unknown }).mappings ?? mappings.body,
      );
      await call('PATCH', '/v1/pipelines/default/policies/collision-authority', { enabled: true });
      await call('POST', '/v1/pipelines/default/push', { marketoId: systems.marketo.listPersons()[0]?.id, as: 'lead' });
      await call('POST', '/v1/pipelines/default/push', { marketoId: 'nope', as: 'contact' });
      await call('POST', '/v1/pipelines/default/runs');
      await tandem.settle();
      await stop(tandem);

      // Wrong secrets (the sync fails and says why), then the password grant.
      const restarts: Array<Record<string, string>> = [
        { MARKETO_CLIENT_SECRET: WRONG_MARKETO_SECRET },
        { DYNAMICS_CLIENT_SECRET: WRONG_DATAVERSE_SECRET },
        { DYNAMICS_USERNAME: DATAVERSE.username, DYNAMICS_PASSWORD: DATAVERSE.password },
      ];
      for (const env of restarts) {
        tandem = await start(env);
        await call('GET', '/ready');
        await call('GET', '/v1/connections');
        await call('POST', '/v1/connections/marketo/check');
        await call('POST', '/v1/connections/dynamics/check');
        const run = await tandem.cycle();
        await call('GET', `/v1/runs/${run._id}`);
        await call('GET', '/v1/pipelines/default/activity?limit=50');
        await stop(tandem);
      }

      const known: Secret[] = [
        { name: 'the API token', value: API_TOKEN },
        { name: 'the Marketo client secret', value: MARKETO.clientSecret },
        { name: 'a wrong Marketo client secret', value: WRONG_MARKETO_SECRET },
        { name: 'the Dataverse client secret', value: DATAVERSE.clientSecret },
        { name: 'a wrong Dataverse client secret', value: WRONG_DATAVERSE_SECRET },
        { name: 'the Dataverse password', value: DATAVERSE.password },
        { name: 'a Basic client:secret pair', value: `${systems.dataverseStarted.clientId}:${DATAVERSE.clientSecret}` },
        ...systems.marketo.issuedTokens().map((value) => ({ name: 'a Marketo access token', value })),
        ...systems.dataverse.issuedTokens().flatMap((value) => [
          { name: 'a Dataverse access token', value },
          // The signature is what makes the token; header and claims are the same for every token of a client.
          { name: "a Dataverse access token's signature", value: value.split('.').at(-1) ?? value },
        ]),
      ];
      // The scan's control: the Marketo client id is no secret (the API shows it), so it must be found.
      const control = forms([{ name: 'control', value: MARKETO.clientId }]);
      const controlFound = answers.filter((a) => control.some((c) => a.text.includes(c.value))).length;
      const all = forms(known);
      const found: Array<{ where: string; secret: string }> = [];
      const scan = (where: string, text: string) => {
        for (const secret of all) if (text.includes(secret.value)) found.push({ where, secret: secret.name });
      };
      for (const answer of answers) scan(answer.what, answer.text);
      const lines = logs.filter((l) => l.trim() !== '');
      lines.forEach((line, i) => scan(`log line ${i + 1}: ${line.slice(0, 120)}`, line));
      const tokens = known.filter((s) => s.name.includes('access token')).length;
      context.log(
        `secrets: ${answers.length} answers and ${lines.length} log lines scanned for ${known.length} secrets ` +
          `(${tokens} of them access tokens, or their signatures); ${found.length} found`,
      );
      return {
        setup:
          `${PEOPLE} people, log level trace, token expiry, 5xx and malformed answers, every GET route with and ` +
          `without the token, wrong secrets on both sides, the password grant`,
        figures: [
          info('scanned', `${answers.length} answers, ${lines.length} log lines`),
          info('secretsLookedFor', known.length),
          zero('found', found.length),
          must('controlFound', controlFound, '> 0 (the scan sees what is there)', controlFound > 0),
        ],
        detail: { found: found.slice(0, 20), secrets: known.map((s) => s.name) },
      };
    } finally {
      for (const tandem of processes) await tandem.kill();
      await systems.close();
    }
  },
};

async function fetchRaw(url: string, path: string, token: string | undefined): Promise<ApiAnswer<unknown>> {
  const response = await fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: undefined, text };
}
