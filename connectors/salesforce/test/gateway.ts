/**
 * A TLS proxy in front of the sandbox, for the way to an org that is not clean: it drops the connection of a request
 * whose URI is longer than it takes (as some gateways do, instead of answering 414), and of the first `dropFirst`
 * requests whatever they are (a network blip), and passes everything else on (naming itself where the org names
 * its own address, as the token answer's `instance_url` does).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { Agent, request } from 'undici';

export interface Gateway {
  url: string;
  caPem: string;
  /** Requests dropped for the length of their URI. */
  dropped: number;
  close(): Promise<void>;
}

async function certificates(): Promise<{ caPem: string; key: string; cert: string }> {
  const ca = await generate([{ name: 'commonName', value: 'Tandem test gateway CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: 'gateway.test' }], {
    keySize: 2048,
    algorithm: 'sha256',
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { caPem: ca.cert, key: leaf.private, cert: leaf.cert };
}

export async function startGateway(
  target: string,
  targetCa: string,
  maxUriBytes: number,
  dropFirst = 0,
): Promise<Gateway> {
  const { caPem, key, cert } = await certificates();
  const upstream = new Agent({ connect: { ca: targetCa } });
  const state = { dropped: 0, seen: 0 };
  const gatewayUrl = () => {
    const address = server.address();
    return typeof address === 'object' && address ? `https://127.0.0.1:${address.port}` : '';
  };
  const server: Server = createServer({ key, cert, maxHeaderSize: 64 * 1024 }, (req, res) => {
    state.seen += 1;
    if (state.seen <= dropFirst || Buffer.byteLength(req.url ?? '') > maxUriBytes) {
      state.dropped += 1;
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (k !== 'host' && k !== 'connection' && typeof v === 'string') headers[k] = v;
      }
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      request(`${target}${req.url ?? '/'}`, {
        method: (req.method ?? 'GET') as 'GET',
        headers,
        body,
        dispatcher: upstream,
      })
        .then(async (answer) => {
          // The token answer's instance_url names the org: a gateway in front of it names itself instead, or
          // the requests after the token would go around it.
          const text = Buffer.from(
            Buffer.from(await answer.body.arrayBuffer())
              .toString('utf8')
              .split(target)
              .join(gatewayUrl()),
          );
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(answer.headers)) {
            if (typeof v === 'string' && !['transfer-encoding', 'connection', 'content-length'].includes(k)) out[k] = v;
          }
          res.writeHead(answer.statusCode, out);
          res.end(text);
        })
        .catch(() => req.socket.destroy());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem,
    get dropped() {
      return state.dropped;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await upstream.close();
    },
  };
}
