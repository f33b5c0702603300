/** A pipeline's policies: each one's toggle, and its settings as JSON, changed from the next cycle on. */
import { api, enc, get } from '../api.js';
import { errorText, h, notice, render, time } from '../dom.js';
import { type Page } from '../page.js';
import type { Policy } from '../types.js';

export const policiesPage: Page = async ({ root, params, signal }) => {
  const id = params['id'] ?? 'default';
  const status = h('div', { class: 'status-line' });
  const list = h('div', { class: 'policies' });
  render(
    root,
    h('h1', null, `Policies of ${id}`),
    h('p', { class: 'muted' }, 'Changes apply from the next cycle, without a restart, and are audited.'),
    status,
    list,
  );

  const patch = async (policy: Policy, change: { enabled?: boolean; settings?: unknown }): Promise<Policy> =>
    api<Policy>('PATCH', `/v1/pipelines/${enc(id)}/policies/${enc(policy.id)}`, change);

  const card = (policy: Policy): HTMLElement => {
    const toggle = h('input', {
      type: 'checkbox',
      role: 'switch',
      id: `policy-${policy.id}`,
      checked: policy.enabled,
    });
    const settings = h('textarea', { rows: 6, spellcheck: 'false', 'aria-label': `Settings of ${policy.id}` });
    settings.value = JSON.stringify(policy.settings, null, 2);
    const save = h('button', { type: 'button' }, 'Save settings');
    const element = h(
      'section',
      { class: 'policy', 'aria-label': policy.id },
      h(
        'h2',
        null,
        h('label', { for: toggle.id }, toggle, ' ', policy.id),
        ' ',
        h('span', { class: 'muted' }, `(${policy.kind})`),
      ),
      h('p', null, policy.description),
      h('p', { class: 'muted' }, 'Last changed: ', policy.updatedAt ? time(policy.updatedAt) : 'never (defaults)'),
      h('details', null, h('summary', null, 'Settings'), settings, h('div', null, save)),
    );
    const replace = (updated: Policy) => element.replaceWith(card(updated));
    toggle.addEventListener('change', () => {
      toggle.disabled = true;
      patch(policy, { enabled: toggle.checked })
        .then((updated) => {
          render(status, notice(`${policy.id} ${updated.enabled ? 'enabled' : 'disabled'}.`));
          replace(updated);
        })
        .catch((error: unknown) => {
          toggle.checked = policy.enabled;
          toggle.disabled = false;
          render(status, notice(errorText(error), 'error'));
        });
    });
    save.addEventListener('click', () => {
      let value: unknown;
      try {
        value = JSON.parse(settings.value);
      } catch (error) {
        render(status, notice(`The settings are not JSON: ${errorText(error)}`, 'error'));
        return;
      }
      patch(policy, { settings: value })
        .then((updated) => {
          render(status, notice(`Settings of ${policy.id} saved.`));
          replace(updated);
        })
        .catch((error: unknown) => render(status, notice(errorText(error), 'error')));
    });
    return element;
  };

  const policies = await get<Policy[]>(`/v1/pipelines/${enc(id)}/policies`, signal);
  if (policies.length === 0) render(list, h('p', null, 'No policy plugin is installed.'));
  else render(list, policies.map(card));
};
