/** Pipelines: each with its connections, state, last and next run; pause, resume, and run now. */
import { ApiError, api, enc, get } from '../api.js';
import { badge, errorText, h, notice, render, table, time, type Child } from '../dom.js';
import { links, type Page } from '../page.js';
import type { Counts, Pipeline } from '../types.js';

/** The counts worth a glance, in the order a reader scans them. */
export function countsSummary(counts: Counts): string {
  const keys = ['read', 'created', 'updated', 'rejected', 'failed'];
  return keys.map((key) => `${counts[key] ?? 0} ${key}`).join(' · ');
}

function connectionsCell(pipeline: Pipeline): Child {
  return h(
    'ul',
    { class: 'plain' },
    Object.entries(pipeline.sides).map(([id, side]) => {
      const connection = pipeline.connections[id];
      return h(
        'li',
        null,
        h('strong', null, id),
        ` (${side.objects.join(', ')})`,
        connection && !connection.loaded ? [' ', badge('not configured', 'failed')] : null,
      );
    }),
  );
}

function stateCell(pipeline: Pipeline): Child {
  const { state } = pipeline;
  if (state.syncEngine === 'unavailable')
    return [badge('unavailable', 'failed'), h('div', { class: 'muted' }, state.message ?? '')];
  if (state.running) return badge('running');
  return pipeline.paused ? badge('paused') : badge('active', 'succeeded');
}

function lastRunCell(pipeline: Pipeline): Child {
  const run = pipeline.state.lastRun;
  if (!run) return h('span', { class: 'muted' }, 'never');
  return [
    badge(run.status),
    ' ',
    time(run.finishedAt ?? run.startedAt),
    h('div', { class: 'muted' }, countsSummary(run.counts)),
  ];
}

function nextRunCell(pipeline: Pipeline): Child {
  if (pipeline.paused) return h('span', { class: 'muted' }, 'paused');
  if (pipeline.state.running) return h('span', { class: 'muted' }, 'running now');
  return [time(pipeline.state.nextRunAt), h('div', { class: 'muted' }, `every ${pipeline.intervalMinutes} min`)];
}

export const pipelinesPage: Page = async ({ root, signal, repeat, go, choosePipeline }) => {
  const status = h('div', { class: 'status-line' });
  const body = h('div');
  render(root, h('h1', null, 'Pipelines'), status, body);

  const act = async (pipeline: Pipeline, what: 'pause' | 'resume' | 'run'): Promise<void> => {
    try {
      if (what === 'run') {
        await api('POST', `/v1/pipelines/${enc(pipeline.id)}/runs`);
        go(links.runs(pipeline.id));
        return;
      }
      await api('PATCH', `/v1/pipelines/${enc(pipeline.id)}`, { paused: what === 'pause' });
      render(status, notice(`Pipeline ${pipeline.id} ${what === 'pause' ? 'paused' : 'resumed'}.`));
      await refresh();
    } catch (error) {
      const running = error instanceof ApiError && error.status === 409 ? error.problem.runId : undefined;
      render(
        status,
        notice(errorText(error), 'error'),
        running ? h('p', null, h('a', { href: links.runs(pipeline.id) }, 'See the run in progress')) : null,
      );
    }
  };

  const refresh = async (): Promise<void> => {
    const pipelines = await get<Pipeline[]>('/v1/pipelines', signal);
    choosePipeline(pipelines.map((p) => p.id));
    if (pipelines.length === 0) {
      render(body, h('p', null, 'No pipeline yet. Create one with POST /v1/pipelines (see the API documentation).'));
      return;
    }
    render(
      body,
      table(
        ['Pipeline', 'Connections', 'State', 'Last run', 'Next run', ''],
        pipelines.map((pipeline) => [
          [
            h('strong', null, pipeline.name),
            pipeline.name !== pipeline.id ? h('div', { class: 'muted' }, pipeline.id) : null,
          ],
          connectionsCell(pipeline),
          stateCell(pipeline),
          lastRunCell(pipeline),
          nextRunCell(pipeline),
          h(
            'div',
            { class: 'actions' },
            h(
              'button',
              {
                type: 'button',
                onclick: () => void act(pipeline, pipeline.paused ? 'resume' : 'pause'),
                'aria-label': `${pipeline.paused ? 'Resume' : 'Pause'} ${pipeline.id}`,
              },
              pipeline.paused ? 'Resume' : 'Pause',
            ),
            h(
              'button',
              {
                type: 'button',
                onclick: () => void act(pipeline, 'run'),
                disabled: pipeline.state.syncEngine === 'unavailable' || Boolean(pipeline.state.running),
                'aria-label': `Run ${pipeline.id} now`,
              },
              'Run now',
            ),
            h('a', { href: links.runs(pipeline.id) }, 'Runs'),
            h('a', { href: links.health(pipeline.id) }, 'Sync health'),
            h('a', { href: links.policies(pipeline.id) }, 'Policies'),
          ),
        ]),
        { class: 'pipelines' },
      ),
    );
  };
  repeat(refresh, 5000);
};
