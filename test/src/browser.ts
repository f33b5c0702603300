/**
 * Headless Chromium for the browser tests: Debian's `chromium` package driven by playwright-core, which never
 * downloads a browser of its own. Each launch gets a fresh profile directory, removed on close, and the flags
 * that keep Chromium from calling home (no network here but loopback).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Where Debian (and Ubuntu's deb) put Chromium; `CHROMIUM_PATH` names another. */
const CANDIDATES = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export const CHROMIUM_PATH = CANDIDATES.find((path): path is string => Boolean(path) && existsSync(path as string));

/**
 * Why the browser tests cannot run here, or undefined when they can. In CI (`CI` set) a missing Chromium is a
 * failure, not a skip: `.ci/run` installs it.
 */
export function chromiumMissing(): string | undefined {
  if (CHROMIUM_PATH) return undefined;
  return `no Chromium found (looked for ${CANDIDATES.filter(Boolean).join(', ')}); install Debian's chromium package or set CHROMIUM_PATH`;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!CHROMIUM_PATH) throw new Error(chromiumMissing());
  const profile = mkdtempSync(join(tmpdir(), 'tandem-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
