/**
 * Tandem as its own process (`node core/dist/src/main.js`, configured through the environment): how it ends.
 * Faults are brought in from outside with a `--require` preload, never by changing Tandem's code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { startTestMongo, type TestMongo } from '../src/testing';
import { fixtureDir } from './helpers/fixtures';

const MAIN = resolve(__dirname, '../src/main.js');
const fixtures = fixtureDir({ linkNodeModules: false });
let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
  fixtures.remove();
});

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs main.js to its end (killed after `timeoutMs`, which fails the test). */
function run(env: Record<string, string>, preload: string, timeoutMs = 60_000): Promise<Ended> {
  const file = join(fixtures.root, `preload-${Math.random().toString(36).slice(2)}.js`);
  writeFileSync(file, preload);
  // Only what the test names: no MONGODB_URI or connector variable leaks in from the environment.
  const child = spawn(process.execPath, ['--require', file, MAIN], {
    env: {
      PATH: process.env['PATH'] ?? '',
      LOG_LEVEL: 'info',
      TANDEM_API_TOKEN: 'process-test-token-0123456789',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`main.js did not end within ${timeoutMs} ms:\n${output.slice(-3000)}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      ok({ code, signal, output });
    });
  });
}

test('without MONGODB_URI where no embedded MongoDB can run, start-up fails saying exactly what to set', async () => {
  // The jongodb binary is an optional dependency, absent on macOS, arm64 and Alpine: make it absent here.
  const absent = `
const Module = require('node:module');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request.startsWith('@jongodb/')) {
    throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  }
  return resolveFilename.call(this, request, ...rest);
};`;
  // A PATH with node's own directory only: no mongod either.
  const ended = await run({ PATH: dirname(process.execPath) }, absent);
  assert.equal(ended.code, 1, ended.output);
  const fatal = ended.output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; code?: string })
    .find((l) => l.level === 60);
  assert.ok(fatal, `a fatal log line:\n${ended.output}`);
  assert.equal(fatal.code, 'BAD_CONFIG');
  assert.match(fatal.msg, /MONGODB_URI is not set and no embedded MongoDB can run on this machine/);
  assert.match(fatal.msg, /Set MONGODB_URI to a MongoDB server, e\.g\. MONGODB_URI=mongodb:\/\//);
  assert.ok(!/\n\s+at /.test(ended.output), 'no stack trace for a configuration problem');
});

test('an error nothing handled ends the process with exit code 1, logged with its message', async () => {
  // Once the API listens, a promise nobody awaits rejects, the way an outage once surfaced from the engine.
  const port = String(20_000 + Math.floor(Math.random() * 20_000));
  const reject = `
const http = require('node:http');
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    if (String(this.address().port) !== process.env.PORT) return;
    Promise.reject(Object.assign(new Error('Server selection timed out after 10000 ms'), { name: 'MongoServerSelectionError' }));
  });
  return listen.apply(this, args);
};`;
  const ended = await run({ MONGODB_URI: `${mongo.uri}${mongo.freshDbName()}`, PORT: port }, reject);
  assert.equal(ended.code, 1, ended.output);
  const fatal = ended.output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { type: string; message: string } })
    .find((l) => l.level === 60);
  assert.equal(fatal?.msg, 'shutting down after an error nothing handled', ended.output);
  assert.equal(fatal?.err?.message, 'Server selection timed out after 10000 ms');
});
