/**
 * A MongoDB wire-protocol pass-through that counts the commands Tandem sends, run as a process of its own so
 * that counting costs Tandem nothing. (The driver's command monitoring counts the same commands, but to build
 * its events the driver deserializes every reply a second time, which would be charged to Tandem's CPU.)
 *
 *   node bench/mongo-counter.mjs <upstream host:port>
 * prints one JSON line {"address": "127.0.0.1:<port>", "countsUrl": "http://127.0.0.1:<port>/"}; GET countsUrl
 * answers {"commands": n, "bytes": n, "bytesReceived": n, "byName": {...}, "bytesByName": {...}} (bytes Tandem
 * sent and received, counted commands only for `bytes`; names as "update links"); POST resets.
 *
 * Counted: every OP_MSG request whose command is not a handshake or heartbeat (`hello`, `isMaster`), which
 * is what command monitoring reports. Compression is not negotiated through this proxy (OP_COMPRESSED would
 * hide the command name), so Tandem must connect without `compressors`.
 */
import { createServer as createHttpServer } from 'node:http';
import net from 'node:net';

const OP_MSG = 2013;
const NOT_COUNTED = new Set(['hello', 'isMaster', 'ismaster']);
const [host, port] = (process.argv[2] ?? '').split(':');
if (!host || !port) {
  console.error('usage: node bench/mongo-counter.mjs <upstream host:port>');
  process.exit(2);
}

let commands = 0;
let bytes = 0;
let bytesReceived = 0;
let byName = {};
let bytesByName = {};

/** The first element of the command document: the command's name, and its collection when it names one. */
function commandOf(message) {
  // header (16) + flagBits (4) + section kind (1) + document length (4) + element type (1), then a C string.
  if (message.readInt32LE(12) !== OP_MSG || message[20] !== 0) return undefined;
  const start = 26;
  const end = message.indexOf(0, start);
  if (end <= start) return undefined;
  const name = message.toString('latin1', start, end);
  // A string value (type 2: int32 length including the NUL, then the bytes) is the collection's name.
  const collection =
    message[25] === 2 ? message.toString('utf8', end + 5, end + 5 + message.readInt32LE(end + 1) - 1) : undefined;
  return { name, collection };
}

const proxy = net.createServer((client) => {
  const upstream = net.connect(Number(port), host);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  let pending = Buffer.alloc(0);
  client.on('data', (chunk) => {
    upstream.write(chunk);
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 16 && pending.length >= pending.readInt32LE(0)) {
      const length = pending.readInt32LE(0);
      const command = commandOf(pending.subarray(0, length));
      if (command !== undefined && !NOT_COUNTED.has(command.name)) {
        const key = command.collection ? `${command.name} ${command.collection}` : command.name;
        commands += 1;
        bytes += length;
        byName[key] = (byName[key] ?? 0) + 1;
        bytesByName[key] = (bytesByName[key] ?? 0) + length;
      }
      pending = pending.subarray(length);
    }
  });
  upstream.on('data', (chunk) => (bytesReceived += chunk.length));
  upstream.pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
});

const api = createHttpServer((req, res) => {
  if (req.method === 'POST') {
    commands = 0;
    bytes = 0;
    bytesReceived = 0;
    byName = {};
    bytesByName = {};
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ commands, bytes, bytesReceived, byName, bytesByName }));
});

proxy.listen(0, '127.0.0.1', () => {
  api.listen(0, '127.0.0.1', () => {
    console.log(
      JSON.stringify({
        address: `127.0.0.1:${proxy.address().port}`,
        countsUrl: `http://127.0.0.1:${api.address().port}/`,
      }),
    );
  });
});
process.on('SIGTERM', () => process.exit(0));
