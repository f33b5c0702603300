/**
 * How a webhook delivery is signed, so that its receiver can tell it came from this Tandem and is not a replay:
 *
 *   Tandem-Signature: t=<Unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the webhook's secret>
 *
 * The timestamp is signed with the body, so a receiver that refuses a `t` more than a few minutes from its own
 * clock refuses replays of an old delivery; `Tandem-Delivery` (the same on every retry of one delivery) lets it
 * drop a delivery it has already handled. The scheme is the one Stripe documents for its webhooks
 * (https://docs.stripe.com/webhooks#verify-manually), which many receivers already know how to check.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'tandem-signature';
export const DELIVERY_HEADER = 'tandem-delivery';
export const EVENT_HEADER = 'tandem-event';

/** How far a receiver should let `t` stray from its own clock (what `verifySignature` allows by default). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function signaturePayload(timestamp: number, body: string): string {
  return `${timestamp}.${body}`;
}

export function sign(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(signaturePayload(timestamp, body), 'utf8').digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/** Whether `header` signs `body` with `secret`, within `toleranceSeconds` of `nowSeconds`. */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  const parts = new Map(
    header.split(',').map((p) => {
      const at = p.indexOf('=');
      return [p.slice(0, at).trim(), p.slice(at + 1).trim()] as const;
    }),
  );
  const timestamp = Number(parts.get('t'));
  const given = parts.get('v1') ?? '';
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = sign(secret, timestamp, body).split('v1=')[1] ?? '';
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** A new secret: 32 random bytes, base64url (43 characters). */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}
