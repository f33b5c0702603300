/**
 * The sandbox's private CA for HTTPS (Marketo serves REST over HTTPS only): a self-signed CA certificate that
 * is also the server's, valid for a week, made at start. Its PEM is what a client trusts (`caPem`).
 */
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export async function makeCertificate(host: string): Promise<{ key: string; cert: string }> {
  const altNames: Array<{ type: 2 | 7; value?: string; ip?: string }> = [
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
  ];
  if (isIP(host) && host !== '127.0.0.1') altNames.push({ type: 7, ip: host });
  else if (!isIP(host) && host !== 'localhost') altNames.push({ type: 2, value: host });
  const pems = await generate([{ name: 'commonName', value: 'Tandem Marketo sandbox' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 7 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
