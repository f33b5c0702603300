/**
 * One person, drilled down to from sync health: their records on both systems (the link) and their sync
 * activity, newest first, with a resync of just them.
 */
import { api, enc, get } from '../api.js';
import { badge, errorText, h, notice, render, table, time } from '../dom.js';
import { links, type Page } from '../page.js';
import type { ActivityEntry, Link } from '../types.js';

export const personPage: Page = async ({ root, params, signal }) => {
  const id = params['id'] ?? 'default';
  const connection = params['connection'];
  const recordId = params['recordId'];
  const email = params['email'];
  const who: Record<string, string> | undefined =
    connection && recordId ? { connection, recordId } : email ? { email } : undefined;
  if (!who) {
    render(root, h('h1', null, 'Person'), notice('Name a person: a connection and record id, or an email.', 'error'));
    return;
  }
  const query = new URLSearchParams(who).toString();
  const status = h('div', { class: 'status-line' });
  const resync = h('button', { type: 'button' }, 'Resync this person');
  const heading = h('h1', null, `Person ${email ?? `${connection} ${recordId}`}`);
  render(
    root,
    h('p', null, h('a', { href: links.health(id) }, '← Sync health')),
    heading,
    h('div', { class: 'toolbar' }, resync),
    status,
  );

  resync.addEventListener('click', () => {
    resync.disabled = true;
    const body = connection && recordId ? { connection, recordIds: [recordId] } : { emails: [email] };
    api<{ flagged: number }>('POST', `/v1/pipelines/${enc(id)}/resync`, body)
      .then(({ flagged }) =>
        render(
          status,
          notice(
            flagged > 0
              ? 'Flagged for resync: the next cycle compares and writes this person again.'
              : 'Not flagged: no link holds this record.',
          ),
        ),
      )
      .catch((error: unknown) => render(status, notice(errorText(error), 'error')))
      .finally(() => {
        resync.disabled = false;
      });
  });

  const [found, activity] = await Promise.all([
    get<Link[]>(`/v1/pipelines/${enc(id)}/links?${query}&limit=10`, signal),
    get<ActivityEntry[]>(`/v1/pipelines/${enc(id)}/activity?${query}&limit=200`, signal),
  ]);
  const link = found[0];
  if (link?.email) heading.textContent = `Person ${link.email}`;
  root.append(
    h('h2', null, 'Records'),
    found.length === 0
      ? h('p', { class: 'muted' }, 'No link holds this record (never linked, or the pipeline was reset).')
      : table(
          ['Connection', 'Object', 'Record id', 'State', 'Updated'],
          found.flatMap((l) =>
            Object.entries(l.ids).map(([c, recordOnSide]) => [
              h('strong', null, c),
              l.objects[c] ?? '',
              recordOnSide ?? h('span', { class: 'muted' }, 'not created'),
              badge(l.state),
              time(l.updatedAt),
            ]),
          ),
          { class: 'records' },
        ),
    h('h2', null, 'Activity across both systems'),
    activity.length === 0
      ? h('p', { class: 'muted' }, 'No activity recorded.')
      : table(
          ['When', 'What', 'Connection', 'Code', 'Detail', 'Run'],
          activity.map((entry) => [
            time(entry.at),
            badge(entry.type),
            entry.connection ?? '',
            entry.code ?? '',
            h('span', { class: 'detail' }, entry.detail),
            entry.runId ? h('code', { title: entry.runId }, entry.runId.slice(0, 8)) : '',
          ]),
          { class: 'activity', 'aria-label': 'Activity' },
        ),
  );
};
