/**
 * Runs of one pipeline, newest first, with their counts; a run still going is followed live (its counts, each
 * connection's records read and written, and what it is doing) by polling `GET /v1/runs/:id`.
 */
import { api, enc, get } from '../api.js';
import { badge, duration, errorText, h, notice, render, table, time, type Child } from '../dom.js';
import { type Page } from '../page.js';
import type { Run } from '../types.js';

const COUNT_KEYS = ['read', 'created', 'updated', 'unchanged', 'conflicts', 'rejected', 'failed', 'deleted'];
const LIVE_POLL_MS = 1000;
const LIST_POLL_MS = 5000;

const going = (run: Run) => run.status === 'running' || run.status === 'queued';

function sidesText(run: Run): Child {
  if (!run.sides) return h('span', { class: 'muted' }, '—');
  return h(
    'ul',
    { class: 'plain' },
    Object.entries(run.sides).map(([connection, side]) =>
      h('li', null, h('strong', null, connection), `: ${side.read} read, ${side.written} written`),
    ),
  );
}

function liveRun(run: Run): HTMLElement {
  return h(
    'section',
    { class: 'live', 'aria-live': 'polite', 'aria-label': 'Run in progress' },
    h('h2', null, 'Run in progress ', badge(run.status)),
    h('p', null, `Started `, time(run.startedAt), `, ${duration(run.startedAt, null)} ago. `, run.progress ?? ''),
    h(
      'dl',
      { class: 'counts' },
      COUNT_KEYS.map((key) => [h('dt', null, key), h('dd', null, String(run.counts[key] ?? 0))]),
    ),
    sidesText(run),
  );
}

export const runsPage: Page = async ({ root, params, signal, repeat }) => {
  const id = params['id'] ?? 'default';
  const status = h('div', { class: 'status-line' });
  const live = h('div');
  const list = h('div');
  const runNow = h('button', { type: 'button' }, 'Run now');
  render(root, h('h1', null, `Runs of ${id}`), h('div', { class: 'toolbar' }, runNow), status, live, list);

  /** The run followed live, if any. */
  let following: string | undefined;

  const refreshList = async (): Promise<void> => {
    const runs = await get<Run[]>(`/v1/pipelines/${enc(id)}/runs?limit=50`, signal);
    const current = runs.find(going);
    if (current && current.id !== following) follow(current.id);
    if (runs.length === 0) {
      render(list, h('p', null, 'No run yet.'));
      return;
    }
    render(
      list,
      table(
        ['Started', 'Trigger', 'Status', 'Took', ...COUNT_KEYS, 'Per connection', 'Notes'],
        runs.map((run) => [
          time(run.startedAt),
          run.trigger,
          badge(run.status),
          going(run) ? '…' : duration(run.startedAt, run.finishedAt),
          ...COUNT_KEYS.map((key) => h('span', { class: 'num' }, String(run.counts[key] ?? 0))),
          sidesText(run),
          [
            run.error ? h('div', { class: 'error-text' }, run.error) : null,
            ...(run.warnings ?? []).map((w) => h('div', { class: 'muted' }, w)),
          ],
        ]),
        { class: 'runs', 'aria-label': 'Runs' },
      ),
    );
  };

  /** Polls one run until it ends, then shows the list with its final counts. */
  const follow = (runId: string): void => {
    following = runId;
    const step = async (): Promise<void> => {
      if (signal.aborted || following !== runId) return;
      const run = await get<Run>(`/v1/runs/${enc(runId)}`, signal);
      if (!going(run)) {
        following = undefined;
        live.replaceChildren();
        await refreshList();
        return;
      }
      render(live, liveRun(run));
      setTimeout(
        () => void step().catch((error: unknown) => render(status, notice(errorText(error), 'error'))),
        LIVE_POLL_MS,
      );
    };
    void step().catch((error: unknown) => render(status, notice(errorText(error), 'error')));
  };

  runNow.addEventListener('click', () => {
    runNow.disabled = true;
    api<{ runId: string }>('POST', `/v1/pipelines/${enc(id)}/runs`)
      .then(({ runId }) => {
        render(status, notice('Run started.'));
        follow(runId);
        return refreshList();
      })
      .catch((error: unknown) => render(status, notice(errorText(error), 'error')))
      .finally(() => {
        runNow.disabled = false;
      });
  });

  repeat(refreshList, LIST_POLL_MS);
};
