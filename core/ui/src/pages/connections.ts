/** Connections: each with its connector, mode, object types and last check, and a check on demand. */
import { api, enc, get } from '../api.js';
import { badge, errorText, h, render, table, time, type Child } from '../dom.js';
import { type Page } from '../page.js';
import type { ConnectionCheck, ConnectionDetail, Connection } from '../types.js';

function checkCell(check: ConnectionCheck | null): Child {
  if (!check) return h('span', { class: 'muted' }, 'not checked yet');
  return [
    check.ok ? badge('ok', 'succeeded') : badge('failed'),
    ' ',
    time(check.checkedAt),
    check.identity ? h('div', null, 'as ', h('code', null, check.identity)) : null,
    check.instance ? h('div', null, 'instance ', h('code', null, check.instance)) : null,
    check.message ? h('div', { class: check.ok ? 'muted' : 'error-text' }, check.message) : null,
  ];
}

export const connectionsPage: Page = async ({ root, signal }) => {
  const body = h('div');
  render(root, h('h1', null, 'Connections'), body);
  const connections = await get<Connection[]>('/v1/connections', signal);
  const details = await Promise.all(
    connections.map((c) => get<ConnectionDetail>(`/v1/connections/${enc(c.id)}`, signal)),
  );
  if (details.length === 0) {
    render(body, h('p', null, 'No connection is configured.'));
    return;
  }
  render(
    body,
    table(
      ['Connection', 'Connector', 'Mode', 'Object types', 'Last check', ''],
      details.map((connection) => {
        const cell = h('div', null, checkCell(connection.lastCheck));
        const button = h('button', { type: 'button', 'aria-label': `Check ${connection.id}` }, 'Check now');
        button.addEventListener('click', () => {
          button.disabled = true;
          render(cell, h('span', { class: 'muted' }, 'checking…'));
          api<ConnectionCheck>('POST', `/v1/connections/${enc(connection.id)}/check`)
            .then((check) => render(cell, checkCell(check)))
            .catch((error: unknown) => render(cell, h('span', { class: 'error-text' }, errorText(error))))
            .finally(() => {
              button.disabled = false;
            });
        });
        return [
          h('strong', null, connection.id),
          connection.connector,
          badge(connection.mode),
          connection.objectTypes.join(', '),
          cell,
          button,
        ];
      }),
      { class: 'connections', 'aria-label': 'Connections' },
    ),
  );
};
