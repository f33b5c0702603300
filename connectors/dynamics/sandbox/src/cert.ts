/**
 * The sandbox's HTTPS identity, made at start (msal-node only accepts HTTPS authorities): a private CA, and a server
 * certificate it signs for the listening host. Clients trust the CA (`caPem`) the way an operator adds a corporate
 * CA to NODE_EXTRA_CA_CERTS, so the chain they verify is the ordinary CA → server one, not a self-signed leaf.
 * EC P-256 keys: generated in milliseconds, where RSA takes a noticeable part of a second on a busy machine.
 */
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface SandboxCertificates {
  /** The server's private key and certificate (PEM). */
  key: string;
  cert: string;
  /** The private CA's certificate (PEM): what a client adds to its trusted CAs. */
  caPem: string;
}

export async function makeCertificates(host: string): Promise<SandboxCertificates> {
  const notAfterDate = new Date(Date.now() + 7 * 24 * 3600 * 1000);
  const ca = await generate([{ name: 'commonName', value: 'Tandem Dataverse sandbox CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const altNames: Array<{ type: 2 | 7; value?: string; ip?: string }> = [
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
  ];
  if (isIP(host) && host !== '127.0.0.1') altNames.push({ type: 7, ip: host });
  else if (!isIP(host) && host !== 'localhost') altNames.push({ type: 2, value: host });
  const server = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { key: server.private, cert: server.cert, caPem: ca.cert };
}
