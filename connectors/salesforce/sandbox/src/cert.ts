/**
 * A private certificate authority made at start, and the listener's certificate signed by it: clients trust the
 * CA's PEM (`caPem`) the way they would trust a corporate CA, not the server certificate itself.
 */
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface Certificates {
  caPem: string;
  key: string;
  cert: string;
}

export async function makeCertificates(host: string): Promise<Certificates> {
  const notAfterDate = new Date(Date.now() + 7 * 24 * 3600 * 1000);
  const ca = await generate([{ name: 'commonName', value: 'Tandem Salesforce sandbox CA' }], {
    keySize: 2048,
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
  const leaf = await generate([{ name: 'commonName', value: 'sandbox.my.salesforce.com' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { caPem: ca.cert, key: leaf.private, cert: leaf.cert };
}
