/**
 * Sync health: the rejected and failed writes of a chosen period, grouped by the connection that refused them,
 * the kind of failure and its code, each group with its people. People can be picked and resynced (their next
 * cycle compares and writes them again), opened for their activity across both systems, or exported as CSV.
 */
import { api, download, enc, get } from '../api.js';
import { badge, errorText, h, notice, render, table, time, type Child } from '../dom.js';
import { links, type Page } from '../page.js';
import type { HealthGroup, HealthPerson, HealthReport } from '../types.js';

const DEFAULT_PERIOD_MS = 7 * 24 * 3600_000;
const PERIODS: Record<string, { label: string; ms: number }> = {
  '1h': { label: 'Last hour', ms: 3600_000 },
  '24h': { label: 'Last 24 hours', ms: 24 * 3600_000 },
  '7d': { label: 'Last 7 days', ms: DEFAULT_PERIOD_MS },
  '30d': { label: 'Last 30 days', ms: 30 * 24 * 3600_000 },
};

/** A person's first record id (by connection), which names them to the resync and activity routes. */
export function recordOf(person: HealthPerson): { connection: string; recordId: string } | undefined {
  for (const [connection, recordId] of Object.entries(person.ids)) if (recordId) return { connection, recordId };
  return undefined;
}

/** The resync requests for `people`: one per connection naming their records, one for those known by email only. */
export function resyncBodies(people: readonly HealthPerson[]): Array<Record<string, unknown>> {
  const byConnection = new Map<string, Set<string>>();
  const emails = new Set<string>();
  for (const person of people) {
    const record = recordOf(person);
    if (record) {
      const ids = byConnection.get(record.connection) ?? new Set<string>();
      ids.add(record.recordId);
      byConnection.set(record.connection, ids);
    } else if (person.email) emails.add(person.email);
  }
  return [
    ...[...byConnection].map(([connection, ids]) => ({ connection, recordIds: [...ids] })),
    ...(emails.size > 0 ? [{ emails: [...emails] }] : []),
  ];
}

function personLink(pipelineId: string, person: HealthPerson): Child {
  const record = recordOf(person);
  const label = person.email ?? record?.recordId ?? 'unknown';
  if (record) return h('a', { href: links.person(pipelineId, record) }, label);
  return person.email ? h('a', { href: links.person(pipelineId, { email: person.email }) }, label) : label;
}

function groupTitle(group: HealthGroup): string {
  return `${group.connection ?? 'unknown connection'} · ${group.type} · ${group.code ?? 'no code'}`;
}

function toLocalInput(iso: string): string {
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

export const healthPage: Page = async ({ root, params, signal, go }) => {
  const id = params['id'] ?? 'default';
  const period = params['period'] ?? (params['since'] ? 'custom' : '7d');
  const until = params['until'] ?? new Date().toISOString();
  const since =
    params['since'] ?? new Date(Date.parse(until) - (PERIODS[period]?.ms ?? DEFAULT_PERIOD_MS)).toISOString();
  const query = () => `since=${enc(since)}&until=${enc(until)}`;

  const choice = h(
    'select',
    { id: 'period', 'aria-label': 'Period' },
    Object.entries(PERIODS).map(([key, p]) => h('option', { value: key, selected: key === period }, p.label)),
    h('option', { value: 'custom', selected: period === 'custom' }, 'Between…'),
  );
  const from = h('input', { type: 'datetime-local', 'aria-label': 'From', value: toLocalInput(since) });
  const to = h('input', { type: 'datetime-local', 'aria-label': 'Until', value: toLocalInput(until) });
  const custom = h('span', { class: 'custom-period', hidden: period !== 'custom' }, from, ' – ', to);
  const show = h('button', { type: 'button' }, 'Show');
  const resync = h('button', { type: 'button', disabled: true }, 'Resync selected');
  const csv = h('button', { type: 'button' }, 'Download CSV');
  const status = h('div', { class: 'status-line' });
  const summary = h('p', { class: 'summary' });
  const groups = h('div');
  render(
    root,
    h('h1', null, `Sync health of ${id}`),
    h('div', { class: 'toolbar' }, choice, custom, show, resync, csv),
    status,
    summary,
    groups,
  );

  choice.addEventListener('change', () => {
    custom.hidden = choice.value !== 'custom';
  });
  show.addEventListener('click', () => {
    if (choice.value !== 'custom') return go(`${links.health(id)}?period=${enc(choice.value)}&t=${Date.now()}`);
    const a = new Date(from.value);
    const b = new Date(to.value);
    if (isNaN(a.getTime()) || isNaN(b.getTime()))
      return render(status, notice('Pick both ends of the period.', 'error'));
    go(`${links.health(id)}?since=${enc(a.toISOString())}&until=${enc(b.toISOString())}`);
  });
  csv.addEventListener('click', () => {
    download(`/v1/pipelines/${enc(id)}/health.csv?${query()}`, `tandem-health-${id}.csv`).catch((error: unknown) =>
      render(status, notice(errorText(error), 'error')),
    );
  });

  const report = await get<HealthReport>(`/v1/pipelines/${enc(id)}/health?${query()}`, signal);
  const people = report.groups.reduce((n, g) => n + g.people.length, 0);
  render(
    summary,
    `${report.examined} rejected or failed ${report.examined === 1 ? 'write' : 'writes'} from `,
    time(report.since),
    ' to ',
    time(report.until),
    `, ${report.groups.length} ${report.groups.length === 1 ? 'group' : 'groups'}, ${people} ${people === 1 ? 'person' : 'people'} in them.`,
    report.leftOut > 0
      ? h(
          'strong',
          { class: 'warning-text' },
          ` ${report.leftOut} older entries were left out: the groups cover from `,
          time(report.examinedSince),
          ' on.',
        )
      : null,
  );
  if (report.groups.length === 0) {
    render(groups, h('p', { class: 'empty' }, 'No rejected or failed write in this period.'));
    return;
  }

  const selected = new Set<HealthPerson>();
  const boxes: HTMLInputElement[] = [];
  const updateResync = () => {
    resync.disabled = selected.size === 0;
    resync.textContent = selected.size > 0 ? `Resync selected (${selected.size})` : 'Resync selected';
  };
  const checkbox = (person: HealthPerson, group: HTMLInputElement[]): HTMLInputElement => {
    const box = h('input', {
      type: 'checkbox',
      'aria-label': `Select ${person.email ?? recordOf(person)?.recordId ?? 'person'}`,
    });
    box.addEventListener('change', () => {
      if (box.checked) selected.add(person);
      else selected.delete(person);
      updateResync();
    });
    boxes.push(box);
    group.push(box);
    return box;
  };
  /** The group's header box: picks or drops every person of the group. */
  const groupBox = (group: HealthGroup, members: HTMLInputElement[]): HTMLInputElement => {
    const box = h('input', { type: 'checkbox', 'aria-label': `Select everyone in ${groupTitle(group)}` });
    box.addEventListener('change', () => {
      for (const member of members) {
        if (member.checked === box.checked) continue;
        member.checked = box.checked;
        member.dispatchEvent(new Event('change'));
      }
    });
    boxes.push(box);
    return box;
  };

  render(
    groups,
    report.groups.map((group) => {
      const connections = [...new Set(group.people.flatMap((p) => Object.keys(p.ids)))];
      const members: HTMLInputElement[] = [];
      return h(
        'section',
        { class: 'group', 'aria-label': groupTitle(group) },
        h('h2', null, badge(group.type, group.type === 'rejected' ? 'partial' : 'failed'), ' ', groupTitle(group)),
        h(
          'p',
          { class: 'muted' },
          `${group.entries} ${group.entries === 1 ? 'entry' : 'entries'}, ${group.people.length} ${group.people.length === 1 ? 'person' : 'people'}, from `,
          time(group.firstAt),
          ' to ',
          time(group.lastAt),
        ),
        table(
          [groupBox(group, members), 'Person', ...connections.map((c) => `${c} id`), 'Entries', 'Last', 'Message'],
          group.people.map((person) => [
            checkbox(person, members),
            personLink(id, person),
            ...connections.map((c) => person.ids[c] ?? h('span', { class: 'muted' }, 'none')),
            h('span', { class: 'num' }, String(person.entries)),
            time(person.lastAt),
            h('span', { class: 'detail' }, person.detail),
          ]),
          { class: 'people' },
        ),
      );
    }),
  );

  resync.addEventListener('click', () => {
    const chosen = [...selected];
    resync.disabled = true;
    Promise.all(
      resyncBodies(chosen).map((body) => api<{ flagged: number }>('POST', `/v1/pipelines/${enc(id)}/resync`, body)),
    )
      .then((answers) => {
        const flagged = answers.reduce((n, a) => n + a.flagged, 0);
        render(
          status,
          notice(
            `${flagged} of ${chosen.length} ${chosen.length === 1 ? 'person' : 'people'} flagged for resync: the next cycle compares and writes them again.`,
          ),
        );
        selected.clear();
        for (const box of boxes) box.checked = false;
      })
      .catch((error: unknown) => render(status, notice(errorText(error), 'error')))
      .finally(updateResync);
  });
};
