'use strict';
/**
 * The system the example connector talks to: people in memory behind a small JSON API, standing in for the
 * service you integrate. Every change gets a sequence number, so a client can ask what changed since one.
 *
 *   GET    /                       { name: 'toy', instance }                  (who answers)
 *   GET    /people?since=N&limit=M { people: [...], last: N, more: bool }     (changes, deletes included)
 *   POST   /people/lookup          { ids?: [...], emails?: [...] } → { people: [...] }
 *   POST   /people                 { email, firstName, lastName, title } → 201 { id }   (400 { error } if invalid)
 *   PATCH  /people/:id             { field: value, ... } → 204                 (404 if gone, 400 if invalid)
 *   DELETE /people/:id             → 204
 *
 * Run it on its own with `node server.js` (port 4100) to try the connector by hand.
 */
const { createServer } = require('node:http');
const { randomUUID } = require('node:crypto');

const FIELDS = ['email', 'firstName', 'lastName', 'title'];

function startToyServer({ port = 0, host = '127.0.0.1' } = {}) {
  const people = new Map();
  const instance = randomUUID();
  let seq = 0;
  const touch = (person) => Object.assign(person, { seq: ++seq });
  const visible = (p) => ({
    id: p.id,
    seq: p.seq,
    ...(p.deleted ? { deleted: true } : Object.fromEntries(FIELDS.map((f) => [f, p[f] ?? null]))),
  });
  const invalid = (body) =>
    Object.keys(body).find((k) => !FIELDS.includes(k)) ??
    (typeof body.title === 'string' && body.title.length > 40 ? 'title' : undefined);

  const server = createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : {};
    const url = new URL(req.url, 'http://toy');
    const id = /^\/people\/([^/]+)$/.exec(url.pathname)?.[1];
    if (req.method === 'GET' && url.pathname === '/') return send(200, { name: 'toy', instance });
    if (req.method === 'GET' && url.pathname === '/people') {
      const since = Number(url.searchParams.get('since') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const changed = [...people.values()].filter((p) => p.seq > since).sort((a, b) => a.seq - b.seq);
      const page = changed.slice(0, limit);
      return send(200, { people: page.map(visible), last: page.at(-1)?.seq ?? since, more: changed.length > limit });
    }
    if (req.method === 'POST' && url.pathname === '/people/lookup') {
      const ids = new Set(body.ids ?? []);
      const emails = new Set((body.emails ?? []).map((e) => String(e).trim().toLowerCase()));
      const found = [...people.values()].filter(
        (p) => !p.deleted && (ids.has(p.id) || (p.email && emails.has(String(p.email).trim().toLowerCase()))),
      );
      return send(200, { people: found.map(visible) });
    }
    if (req.method === 'POST' && url.pathname === '/people') {
      const bad = invalid(body);
      if (bad) return send(400, { error: `invalid field: ${bad}` });
      const person = touch({ id: randomUUID(), ...body });
      people.set(person.id, person);
      return send(201, { id: person.id });
    }
    const person = id ? people.get(id) : undefined;
    if (id && (!person || person.deleted)) return send(404, { error: 'no such person' });
    if (req.method === 'PATCH' && person) {
      const bad = invalid(body);
      if (bad) return send(400, { error: `invalid field: ${bad}` });
      touch(Object.assign(person, body));
      return send(204);
    }
    if (req.method === 'DELETE' && person) {
      touch(Object.assign(person, { deleted: true }));
      return send(204);
    }
    send(404, { error: 'not found' });
  });

  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const address = server.address();
      resolve({
        url: `http://${host}:${address.port}`,
        instance,
        add: (values) => {
          const person = touch({ id: randomUUID(), ...values });
          people.set(person.id, person);
          return person.id;
        },
        edit: (personId, values) => touch(Object.assign(people.get(personId), values)),
        remove: (personId) => touch(Object.assign(people.get(personId), { deleted: true })),
        list: () => [...people.values()].filter((p) => !p.deleted).map(visible),
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

module.exports = { startToyServer };

if (require.main === module) {
  startToyServer({ port: Number(process.env.PORT ?? 4100) }).then((s) => console.log(`toy system at ${s.url}`));
}
