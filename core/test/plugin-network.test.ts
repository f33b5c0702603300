import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { request } from 'undici';
import {
  ConcurrencySlots,
  ConnectorAuthError,
  RetryableError,
  SingleFlight,
  abortable,
  connectionError,
  makeAgent,
  networkFailure,
  withoutSecrets,
} from '../src/plugin';

/** A port on 127.0.0.1 that nothing listens on (taken, then let go). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

test('a refused connection: classified from undici’s error, explained naming the system, the host and the variables', async () => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}/token`;
  const agent = makeAgent(undefined, { connections: 1, bodyTimeoutMs: 1_000 });
  try {
    const error = await request(url, { dispatcher: agent }).then(
      () => assert.fail('nothing listens there'),
      (e: unknown) => e,
    );
    const failure = networkFailure(error);
    assert.equal(failure?.kind, 'refused');
    assert.equal(failure?.code, 'ECONNREFUSED');
    const explained = connectionError('Salesforce', url, failure, ['SALESFORCE_URL'], error);
    assert.ok(explained instanceof RetryableError);
    assert.equal(
      explained.message,
      `Salesforce is not reachable: nothing accepts connections at 127.0.0.1:${port}: connection refused (ECONNREFUSED). Check SALESFORCE_URL.`,
    );
    assert.deepEqual(explained.details, {
      system: 'Salesforce',
      host: `127.0.0.1:${port}`,
      failure: 'refused',
      code: 'ECONNREFUSED',
      variables: ['SALESFORCE_URL'],
    });
  } finally {
    await agent.close();
  }
});

test('a TLS failure deep in the causes needs someone to act: CONNECTOR_AUTH, and NODE_EXTRA_CA_CERTS to check', () => {
  const tls = Object.assign(new Error('self-signed certificate in certificate chain'), {
    code: 'SELF_SIGNED_CERT_IN_CHAIN',
  });
  const wrapped = new Error('fetch failed', { cause: new Error('connect failed', { cause: tls }) });
  const failure = networkFailure(wrapped);
  assert.deepEqual(failure, {
    kind: 'tls',
    code: 'SELF_SIGNED_CERT_IN_CHAIN',
    detail: 'self-signed certificate in certificate chain',
  });
  const explained = connectionError('Entra ID', 'https://login.example.test/x', failure, ['DYNAMICS_AUTHORITY_HOST']);
  assert.ok(explained instanceof ConnectorAuthError);
  assert.equal(
    explained.message,
    'Entra ID is not reachable: the TLS handshake with login.example.test failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN). Check DYNAMICS_AUTHORITY_HOST, NODE_EXTRA_CA_CERTS.',
  );
  assert.equal(networkFailure(new Error('no code anywhere')), undefined);
});

test('withoutSecrets blanks every occurrence of each secret of four characters or more', () => {
  assert.equal(
    withoutSecrets('secret s3cr3t was refused; s3cr3t again, and abc', ['s3cr3t', 'abc', undefined]),
    'secret *** was refused; *** again, and abc',
  );
});

test('abortable lets the caller go when its signal aborts, and leaves the work to finish for others', async () => {
  let finish: (value: string) => void = () => undefined;
  const work = new Promise<string>((resolve) => (finish = resolve));
  const controller = new AbortController();
  const waiting = abortable(work, controller.signal);
  controller.abort(new Error('the caller gave up'));
  await assert.rejects(waiting, /the caller gave up/);
  finish('token');
  assert.equal(await abortable(work, undefined), 'token');
  assert.equal(await abortable(work, new AbortController().signal), 'token');
  await assert.rejects(abortable(work, AbortSignal.abort(new Error('already gone'))), /already gone/);
});

test('SingleFlight: callers share one request; it is cancelled only when the last of them gives up', async () => {
  const flight = new SingleFlight<string>();
  const started: AbortSignal[] = [];
  const start = (signal: AbortSignal) => {
    started.push(signal);
    return new Promise<string>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      setImmediate(() => resolve(`token ${started.length}`));
    });
  };
  assert.deepEqual(await Promise.all([flight.run(start), flight.run(start)]), ['token 1', 'token 1']);
  assert.equal(started.length, 1, 'one request for both callers');

  const first = new AbortController();
  const second = new AbortController();
  const a = flight.run(start, first.signal);
  const b = flight.run(start, second.signal);
  first.abort(new Error('first gave up'));
  await assert.rejects(a, /first gave up/);
  assert.equal(started[1]?.aborted, false, 'the second caller still waits for it');
  second.abort(new Error('second gave up'));
  await assert.rejects(b, /second gave up/);
  assert.equal(started[1]?.aborted, true, 'nobody waits any more: cancelled');
  assert.equal(await flight.run(start), 'token 3', 'the next caller starts afresh');
});

test('ConcurrencySlots: at most max in flight, the others in order; one given up while waiting never takes a slot', async () => {
  const slots = new ConcurrencySlots(2);
  let inFlight = 0;
  let most = 0;
  const order: number[] = [];
  const gates: Array<() => void> = [];
  const job = (n: number) => () =>
    new Promise<number>((resolve) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      order.push(n);
      gates.push(() => {
        inFlight -= 1;
        resolve(n);
      });
    });
  const given = new AbortController();
  const runs = [slots.run(job(1)), slots.run(job(2)), slots.run(job(3), given.signal), slots.run(job(4))];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [1, 2], 'two in flight, the others wait');
  given.abort(new Error('given up'));
  await assert.rejects(runs[2] as Promise<number>, /given up/);
  gates.shift()?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [1, 2, 4], 'the freed slot goes to the next still waiting');
  while (gates.length > 0) gates.shift()?.();
  assert.deepEqual(await Promise.all([runs[0], runs[1], runs[3]]), [1, 2, 4]);
  assert.equal(most, 2);
  await assert.rejects(slots.run(job(5), AbortSignal.abort(new Error('already'))), /already/);
});
