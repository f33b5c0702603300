/**
 * The dashboard and Swagger UI in headless Chromium, against the real server, both sandboxes and a real
 * MongoDB wire-protocol server. What an operator does: enter the token, read a run's counts, find a rejected
 * person under sync health, resync them, toggle a policy; and what must never happen: data without the token, a
 * wrong token taken, the token in a URL.
 *
 * With `TANDEM_SCREENSHOTS=<dir>` each page is also saved there as a PNG (the README's screenshots).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page, Request } from 'playwright-core';
import { samplePerson, startTestMongo, type TestMongo } from '@tandem/core/testing';
import { chromiumMissing, launchChromium, type Browser } from './browser';
import { PIPELINE, TOKEN, World, type Run } from './harness';

const email = (i: number) => samplePerson(i).email;
const BLOCKED = 'Blocked Title';
const RULE_MESSAGE = 'Blocked titles are not allowed.';
const SCREENSHOTS = process.env['TANDEM_SCREENSHOTS'];

/** Outside CI a machine without Chromium skips these tests, saying why; in CI that is a failure. */
const missing = chromiumMissing();
const skip = missing !== undefined && !process.env['CI'] ? missing : false;
if (missing !== undefined && process.env['CI']) {
  test('Chromium is installed for the browser tests', () => assert.fail(missing));
}

/** Every request a page makes, and every address it shows, to look for the token in URLs. */
function recordTraffic(page: Page): { requests: Request[]; urls: string[] } {
  const traffic = { requests: [] as Request[], urls: [] as string[] };
  page.on('request', (request) => {
    traffic.requests.push(request);
    traffic.urls.push(request.url());
  });
  page.on('framenavigated', (frame) => traffic.urls.push(frame.url()));
  return traffic;
}

/** A table's body rows as objects keyed by the header cells' text. */
async function tableRows(page: Page, selector: string): Promise<Array<Record<string, string>>> {
  const table = page.locator(selector).first();
  const heads = (await table.locator('thead th').allTextContents()).map((text) => text.trim());
  const rows: Array<Record<string, string>> = [];
  for (const row of await table.locator('tbody tr').all()) {
    const cells = await row.locator('td').allTextContents();
    rows.push(Object.fromEntries(cells.map((text, i) => [heads[i] || String(i), text.trim()])));
  }
  return rows;
}

/** A value of the page's own scripts' world (an expression, so that these tests need no DOM types). */
function inPage(page: Page, expression: string): Promise<unknown> {
  return page.evaluate(expression);
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  // As tall as the content (a short viewport and a full-page shot): no empty space below it.
  const viewport = page.viewportSize();
  await page.setViewportSize({ width: 1200, height: 200 });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  if (viewport) await page.setViewportSize(viewport);
}

async function signIn(page: Page, world: World): Promise<void> {
  await page.goto(`${world.tandem.url}/ui/`);
  await page.locator('#token').fill(TOKEN);
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
  await page.locator('table.pipelines').waitFor();
}

describe('dashboard in Chromium', { skip }, () => {
  let mongo: TestMongo;
  let world: World;
  let browser: Browser;
  /** The cycle in which the Dynamics business rule rejected persons 0 and 1. */
  let rejectingRun: Run;

  before(async () => {
    browser = await launchChromium();
    mongo = await startTestMongo();
    world = await World.start({ mongo, marketo: [0, 1, 2], contacts: [0, 1, 2] });
    await world.settle();
    world.dataverse.addBusinessRule({ entity: 'contact', column: 'jobtitle', equals: BLOCKED, message: RULE_MESSAGE });
    for (const i of [0, 1]) {
      const [person] = world.marketoByEmail(email(i));
      assert.ok(person, `person ${i} is in Marketo`);
      world.marketo.editPerson(person.id, { title: BLOCKED });
    }
    rejectingRun = await world.cycle();
    assert.equal(rejectingRun.counts['rejected'], 2, JSON.stringify(rejectingRun.counts));
  });

  after(async () => {
    await browser?.close();
    await world?.close();
    await mongo?.stop();
  });

  test('without a token the shell shows a token prompt and no data; a wrong token is refused', async () => {
    const page = await browser.context.newPage();
    const traffic = recordTraffic(page);
    await page.goto(`${world.tandem.url}/ui/`);
    await page.locator('#token').waitFor();
    await screenshot(page, 'token-prompt');
    assert.equal(await page.locator('table').count(), 0, 'no table of data');
    assert.equal(await page.locator('#nav a').count(), 0, 'no navigation before the token');
    assert.deepEqual(
      traffic.requests.filter((r) => new URL(r.url()).pathname.startsWith('/v1/')).map((r) => r.url()),
      [],
      'the shell asks the API for nothing without a token',
    );

    await page.locator('#token').fill('not-the-token-0123456789');
    const answer = page.waitForResponse((r) => r.url().endsWith('/v1/plugins'));
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    assert.equal((await answer).status(), 401);
    await page.getByRole('alert').filter({ hasText: 'The API refused this token.' }).waitFor();
    assert.equal(await page.locator('#token').isVisible(), true, 'still asking for the token');
    assert.equal(await page.locator('table').count(), 0);
    assert.equal(await inPage(page, 'sessionStorage.length'), 0, 'a refused token is not kept');
    assert.ok(!traffic.urls.some((url) => url.includes('not-the-token')), 'the token is in no URL');
    await page.close();
  });

  test('with the token: a run’s counts, a rejected person under sync health, their resync, a policy toggled', async () => {
    const page = await browser.context.newPage();
    const traffic = recordTraffic(page);
    await signIn(page, world);
    await screenshot(page, 'pipelines');
    const [pipelineRow] = await tableRows(page, 'table.pipelines');
    assert.match(pipelineRow?.['Last run'] ?? '', /2 rejected/, 'the last run, with its rejections');

    // Runs: the sample run's counts, as the API has them.
    await page.locator('#nav').getByRole('link', { name: 'Runs' }).click();
    await page.locator('table.runs').waitFor();
    const [newest] = await tableRows(page, 'table.runs');
    for (const key of ['read', 'created', 'updated', 'unchanged', 'conflicts', 'rejected', 'failed', 'deleted']) {
      assert.equal(newest?.[key], String(rejectingRun.counts[key] ?? 0), `runs page: ${key}`);
    }
    await screenshot(page, 'runs');

    // Sync health: the group of Dynamics' rejections holds both people, with the system's message.
    await page.locator('#nav').getByRole('link', { name: 'Sync health' }).click();
    const group = page.locator('section.group', { hasText: 'dynamics · rejected' });
    await group.waitFor();
    const people = await tableRows(page, 'section.group table.people');
    assert.deepEqual(people.map((p) => p['Person']).sort(), [email(0), email(1)].sort());
    assert.ok(
      people.every((p) => (p['Message'] ?? '').includes(RULE_MESSAGE)),
      JSON.stringify(people),
    );
    await screenshot(page, 'sync-health');

    // Drill-down: person 0's records on both systems and their activity, the rejection among it.
    await group.getByRole('link', { name: email(0) }).click();
    await page.locator('table.activity').waitFor();
    const activity = await tableRows(page, 'table.activity');
    assert.ok(
      activity.some((a) => a['What'] === 'rejected' && (a['Detail'] ?? '').includes(RULE_MESSAGE)),
      JSON.stringify(activity),
    );
    const records = await tableRows(page, 'table.records');
    assert.deepEqual(records.map((r) => r['Connection']).sort(), ['dynamics', 'marketo']);
    await screenshot(page, 'person');
    await page.goBack();

    // Resync person 0 only, once the rule that refused them is gone: the next cycle writes them, not person 1.
    world.dataverse.clearBusinessRules();
    await page.getByRole('checkbox', { name: `Select ${email(0)}` }).check();
    await page.getByRole('button', { name: 'Resync selected (1)' }).click();
    await page.getByRole('status').filter({ hasText: '1 of 1 person flagged for resync' }).waitFor();
    const resynced = await world.cycle();
    assert.equal(resynced.counts['updated'], 1, JSON.stringify(resynced.counts));
    assert.equal(world.dynamicsByEmail(email(0))[0]?.values['jobtitle'], BLOCKED, 'person 0 written again');
    assert.notEqual(world.dynamicsByEmail(email(1))[0]?.values['jobtitle'], BLOCKED, 'person 1 was not picked');

    // Policies: switching one off is saved through the API.
    await page.locator('#nav').getByRole('link', { name: 'Policies' }).click();
    const toggle = page.getByRole('switch', { name: 'collision-authority' });
    assert.equal(await toggle.isChecked(), true);
    await screenshot(page, 'policies');
    await toggle.uncheck();
    await page.getByRole('status').filter({ hasText: 'collision-authority disabled.' }).waitFor();
    const policies = await world.api<Array<{ id: string; enabled: boolean }>>(
      'GET',
      `/v1/pipelines/${PIPELINE}/policies`,
    );
    assert.equal(policies.body.find((p) => p.id === 'collision-authority')?.enabled, false);
    assert.equal(await page.getByRole('switch', { name: 'collision-authority' }).isChecked(), false);

    // The token was kept in this tab's session storage, and appeared in no URL and no cookie.
    assert.equal(await inPage(page, "sessionStorage.getItem('tandem.token')"), TOKEN);
    assert.equal(await inPage(page, 'document.cookie'), '');
    assert.equal(await inPage(page, 'localStorage.length'), 0);
    assert.ok(traffic.urls.length > 0);
    assert.deepEqual(
      traffic.urls.filter((url) => url.includes(TOKEN)),
      [],
      'the token is in no URL',
    );
    const origin = new URL(world.tandem.url).origin;
    assert.deepEqual(
      traffic.requests.map((r) => r.url()).filter((url) => !url.startsWith(origin) && !url.startsWith('blob:')),
      [],
      'nothing is fetched from another origin',
    );
    for (const request of traffic.requests.filter((r) => new URL(r.url()).pathname.startsWith('/v1/'))) {
      assert.equal((await request.allHeaders())['authorization'], `Bearer ${TOKEN}`, request.url());
    }
    await page.close();
  });

  test('pipelines: pause and resume; a run forced from the dashboard is followed live until it ends', async () => {
    const page = await browser.context.newPage();
    await signIn(page, world);
    await page.getByRole('button', { name: `Pause ${PIPELINE}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Pipeline ${PIPELINE} paused.` })
      .waitFor();
    assert.equal((await world.api<{ paused: boolean }>('GET', `/v1/pipelines/${PIPELINE}`)).body.paused, true);
    await page.getByRole('button', { name: `Resume ${PIPELINE}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Pipeline ${PIPELINE} resumed.` })
      .waitFor();
    assert.equal((await world.api<{ paused: boolean }>('GET', `/v1/pipelines/${PIPELINE}`)).body.paused, false);

    const before = (await world.api<Run[]>('GET', `/v1/pipelines/${PIPELINE}/runs`)).body.length;
    // Each Dataverse answer is slowed, so the cycle is still going when the page first asks about it.
    world.dataverse.injectFaults({ latencyMs: 1500 });
    try {
      await page.getByRole('button', { name: `Run ${PIPELINE} now` }).click();
      const live = page.getByRole('region', { name: 'Run in progress' });
      await live.waitFor();
      assert.match((await live.textContent()) ?? '', /read/);
      await screenshot(page, 'run-in-progress');
      world.dataverse.clearFaults();
      await live.waitFor({ state: 'detached', timeout: 60_000 });
    } finally {
      world.dataverse.clearFaults();
    }
    const runs = (await world.api<Run[]>('GET', `/v1/pipelines/${PIPELINE}/runs`)).body;
    assert.equal(runs.length, before + 1, 'one run was forced');
    await page
      .locator('table.runs tbody tr')
      .nth(runs.length - 1)
      .waitFor();
    const [shown] = await tableRows(page, 'table.runs');
    assert.equal(shown?.['Status'], runs[0]?.status, 'the list shows the run as it ended, without a reload');
    assert.equal(shown?.['Trigger'], 'manual');
    await page.close();
  });

  test('connections: a check on demand shows its outcome', async () => {
    const page = await browser.context.newPage();
    await signIn(page, world);
    await page.locator('#nav').getByRole('link', { name: 'Connections' }).click();
    await page.locator('table.connections').waitFor();
    const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/connections/dynamics/check');
    await page.getByRole('button', { name: 'Check dynamics' }).click();
    const check = (await (await answer).json()) as { ok: boolean; checkedAt: string };
    assert.equal(check.ok, true);
    // The row shows this very check: its time, and that it passed.
    const row = page.locator('table.connections tbody tr', { hasText: 'dynamics' });
    await row.locator(`time[datetime="${check.checkedAt}"]`).waitFor();
    assert.equal(await row.getByText('ok', { exact: true }).count(), 1);
    await screenshot(page, 'connections');
    await page.close();
  });

  test('Swagger UI loads without a header, and its Authorize dialog takes the token for protected routes', async () => {
    const page = await browser.context.newPage();
    const traffic = recordTraffic(page);
    await page.goto(`${world.tandem.url}/docs`);
    await page.locator('.btn.authorize').waitFor();
    const docsRequests = traffic.requests.filter((r) => new URL(r.url()).pathname.startsWith('/docs'));
    assert.ok(docsRequests.length > 0);
    for (const request of docsRequests) {
      assert.equal((await request.allHeaders())['authorization'], undefined, `${request.url()} needs no header`);
    }

    const operation = page.locator('#operations-pipelines-get_v1_pipelines');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    const execute = async (): Promise<number> => {
      const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/pipelines');
      await operation.getByRole('button', { name: 'Execute' }).click();
      return (await answer).status();
    };
    assert.equal(await execute(), 401, 'before Authorize the route refuses');

    await page.locator('.btn.authorize').click();
    await page.locator('.modal-ux input').first().fill(TOKEN);
    await page.locator('.modal-ux button.authorize').click();
    await page.locator('.modal-ux button.btn-done').click();
    assert.equal(await execute(), 200, 'with the token from the dialog it answers');
    const sent = traffic.requests.filter((r) => new URL(r.url()).pathname === '/v1/pipelines').at(-1);
    assert.equal((await sent?.allHeaders())?.['authorization'], `Bearer ${TOKEN}`);
    assert.ok(!traffic.urls.some((url) => url.includes(TOKEN)), 'the token is in no URL');
    await page.close();
  });
});
