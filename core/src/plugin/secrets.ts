/**
 * Keeping secrets out of what we show. A library's error message, or a remote system's error description, may
 * echo what it was sent (a client secret, a password); before such text goes into an error or a log line, each
 * secret in it is blanked out.
 */

/** Replaces each secret that occurs in `text` (a message from a library we do not control) with `***`. */
export function withoutSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  // Shorter values are left alone: blanking every "a" or "12" would garble the message and hide nothing.
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}
