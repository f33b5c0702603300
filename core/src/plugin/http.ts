/**
 * One undici Agent per connection. Without `tlsCa` it uses Node's defaults (system CAs plus NODE_EXTRA_CA_CERTS).
 * With `tlsCa` it trusts that PEM *in addition*: Node's bundled roots, the NODE_EXTRA_CA_CERTS file (which an
 * explicit `ca` option would otherwise drop) and the given PEM.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent } from 'undici';

export interface AgentOptions {
  /** The most sockets open to the host at once. */
  connections: number;
  /** How long a response body may pause between chunks before the request fails (undici's `bodyTimeout`). */
  bodyTimeoutMs: number;
}

function trustedCas(tlsCa: string | undefined): string[] | undefined {
  if (!tlsCa) return undefined;
  const cas = [...rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      cas.push(readFileSync(extra, 'utf8'));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; do the same (by ignoring it).
    }
  }
  cas.push(tlsCa);
  return cas;
}

export function makeAgent(tlsCa: string | undefined, options: AgentOptions): Agent {
  const ca = trustedCas(tlsCa);
  // One secure context for every connection: building one from ~150 root certificates costs milliseconds of CPU,
  // which an explicit `ca` would otherwise pay again on each new TLS connection.
  return new Agent({
    connections: options.connections,
    keepAliveTimeout: 30_000,
    headersTimeout: 120_000,
    bodyTimeout: options.bodyTimeoutMs,
    ...(ca ? { connect: { secureContext: createSecureContext({ ca }) } } : {}),
  });
}
