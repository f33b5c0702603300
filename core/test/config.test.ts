import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { parseConnectorEnv, parseCoreEnv } from '../src/config';
import { redactionPaths, secretFieldNames } from '../src/observability';
import { defineConnector, Secret, TandemError, type ConnectorDefinition } from '../src/plugin';

function badConfig(pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof TandemError);
    assert.equal(error.code, 'BAD_CONFIG');
    assert.match(error.message, pattern);
    return true;
  };
}

test('core variables: defaults, decimals, and errors naming the variable', () => {
  const defaults = parseCoreEnv({});
  assert.equal(defaults.host, '127.0.0.1');
  assert.equal(defaults.port, 3000);
  assert.equal(defaults.syncIntervalMinutes, 5);
  assert.equal(defaults.apiToken, undefined);
  assert.equal(defaults.mongodbUri, undefined);
  assert.equal(defaults.embeddedMongod, 'auto');
  assert.equal(parseCoreEnv({ TANDEM_SYNC_INTERVAL: '0.5' }).syncIntervalMinutes, 0.5);
  assert.deepEqual(parseCoreEnv({ TANDEM_PLUGINS: ' a, ./b ,' }).plugins, ['a', './b']);

  assert.throws(
    () => parseCoreEnv({ TANDEM_SYNC_INTERVAL: 'abc' }),
    badConfig(/^TANDEM_SYNC_INTERVAL must be a positive number of minutes, got "abc"$/),
  );
  assert.throws(() => parseCoreEnv({ TANDEM_SYNC_INTERVAL: '0' }), badConfig(/TANDEM_SYNC_INTERVAL/));
  assert.throws(() => parseCoreEnv({ PORT: '70000' }), badConfig(/^PORT must be/));
  assert.throws(() => parseCoreEnv({ LOG_LEVEL: 'loud' }), badConfig(/^LOG_LEVEL must be one of/));
  assert.throws(() => parseCoreEnv({ MONGODB_URI: 'postgres://x' }), badConfig(/^MONGODB_URI/));
  assert.throws(() => parseCoreEnv({ TANDEM_API_TOKEN: 'short' }), badConfig(/^TANDEM_API_TOKEN must be at least 16/));
});

const noop = { register: () => undefined };
const marketo = defineConnector({
  id: 'marketo',
  ...noop,
  configSchema: Type.Object({
    baseUrl: Type.String({ pattern: '^https?://' }),
    clientId: Type.String(),
    clientSecret: Secret(),
  }),
  env: [
    { variable: 'MARKETO_BASE_URL', key: 'baseUrl', description: 'REST base URL' },
    { variable: 'MARKETO_CLIENT_ID', key: 'clientId', description: 'LaunchPoint client id' },
    { variable: 'MARKETO_CLIENT_SECRET', key: 'clientSecret', description: 'LaunchPoint client secret', secret: true },
  ],
}) as ConnectorDefinition;
const dynamics = defineConnector({
  id: 'dynamics',
  ...noop,
  configSchema: Type.Object({
    url: Type.String(),
    authorityHost: Type.String({ default: 'https://login.microsoftonline.com' }),
    pageSize: Type.Optional(Type.Number()),
  }),
  env: [
    { variable: 'DYNAMICS_URL', key: 'url', description: 'organisation URL' },
    { variable: 'DYNAMICS_AUTHORITY_HOST', key: 'authorityHost', description: 'Entra ID host' },
    { variable: 'DYNAMICS_PAGE_SIZE', key: 'pageSize', description: 'page size', type: 'number' },
  ],
}) as ConnectorDefinition;

test('connector variables: none set is sandbox mode; all set is live with defaults applied', () => {
  assert.equal(parseConnectorEnv({ MARKETO_BASE_URL: '  ' }, [marketo, dynamics]).mode, 'sandbox');
  const live = parseConnectorEnv(
    {
      MARKETO_BASE_URL: 'https://123-abc-456.mktorest.com',
      MARKETO_CLIENT_ID: 'id',
      MARKETO_CLIENT_SECRET: 's3cret',
      DYNAMICS_URL: 'https://org.crm.dynamics.com',
      DYNAMICS_PAGE_SIZE: '500',
    },
    [marketo, dynamics],
  );
  assert.equal(live.mode, 'live');
  assert.deepEqual(live.configs.get('dynamics'), {
    url: 'https://org.crm.dynamics.com',
    authorityHost: 'https://login.microsoftonline.com',
    pageSize: 500,
  });
});

test('connector variables: a connector with none set is simply absent; a half-configured one refuses to start, naming the variables', () => {
  const dynamicsOnly = parseConnectorEnv({ DYNAMICS_URL: 'https://org.crm.dynamics.com' }, [marketo, dynamics]);
  assert.equal(dynamicsOnly.mode, 'live');
  assert.deepEqual([...dynamicsOnly.configs.keys()], ['dynamics']);
  assert.deepEqual(dynamicsOnly.absent, ['marketo']);
  assert.throws(
    () => parseConnectorEnv({ MARKETO_BASE_URL: 'https://123-abc-456.mktorest.com' }, [marketo, dynamics]),
    badConfig(/MARKETO_CLIENT_ID is required/),
  );
  const half = {
    MARKETO_BASE_URL: 'ftp://nope',
    MARKETO_CLIENT_SECRET: 'hunter2-secret',
    DYNAMICS_URL: 'https://org.crm.dynamics.com',
  };
  assert.throws(
    () => parseConnectorEnv(half, [marketo, dynamics]),
    (error: unknown) => {
      assert.ok(error instanceof TandemError);
      assert.match(error.message, /MARKETO_CLIENT_ID is required \(LaunchPoint client id\)/);
      assert.match(error.message, /MARKETO_BASE_URL is invalid/);
      assert.ok(!error.message.includes('hunter2'), 'secrets are never echoed');
      return true;
    },
  );
  assert.throws(
    () =>
      parseConnectorEnv(
        { ...half, MARKETO_BASE_URL: 'https://x', MARKETO_CLIENT_ID: 'id', DYNAMICS_PAGE_SIZE: 'many' },
        [marketo, dynamics],
      ),
    badConfig(/DYNAMICS_PAGE_SIZE must be a number, got "many"/),
  );
});

test('connector variables: a third connector with none of its variables set is absent, not an error', () => {
  const other = defineConnector({
    id: 'other',
    ...noop,
    configSchema: Type.Object({ url: Type.String() }),
    env: [{ variable: 'OTHER_URL', key: 'url', description: 'URL' }],
  }) as ConnectorDefinition;
  const env = {
    MARKETO_BASE_URL: 'https://123-abc-456.mktorest.com',
    MARKETO_CLIENT_ID: 'id',
    MARKETO_CLIENT_SECRET: 's3cret',
    DYNAMICS_URL: 'https://org.crm.dynamics.com',
  };
  const live = parseConnectorEnv(env, [marketo, dynamics, other]);
  assert.equal(live.mode, 'live');
  assert.deepEqual([...live.configs.keys()], ['marketo', 'dynamics']);
  assert.deepEqual(live.absent, ['other']);
  // Set, it is a connection; half set, it stops start-up as any other.
  assert.deepEqual(
    parseConnectorEnv({ ...env, OTHER_URL: 'https://x' }, [marketo, dynamics, other]).configs.get('other'),
    { url: 'https://x' },
  );
  // Alone, it is the only connection (no pipeline of the two others exists then).
  const alone = parseConnectorEnv({ OTHER_URL: 'https://x' }, [marketo, dynamics, other]);
  assert.deepEqual([...alone.configs.keys()], ['other']);
  assert.deepEqual(alone.absent, ['marketo', 'dynamics']);
});

test('redaction paths come from fields marked secret, plus the usual suspects', () => {
  assert.deepEqual(secretFieldNames(marketo.configSchema), ['clientSecret']);
  const paths = redactionPaths([marketo.configSchema]);
  for (const path of ['req.headers.authorization', 'clientSecret', '*.clientSecret', '*.*.password']) {
    assert.ok(paths.includes(path), path);
  }
});
