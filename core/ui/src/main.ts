/**
 * The dashboard's shell: asks for the API token once per tab session, then shows the page the fragment names
 * (`#/pipelines`, `#/pipelines/<id>/runs`, …). Routes live in the fragment so that nothing about them, and never
 * the token, reaches the server in a URL.
 */
import { token, tokenAccepted, whenTokenRefused } from './api.js';
import { errorText, h, render } from './dom.js';
import { links, type Page } from './page.js';
import { connectionsPage } from './pages/connections.js';
import { healthPage } from './pages/health.js';
import { personPage } from './pages/person.js';
import { pipelinesPage } from './pages/pipelines.js';
import { policiesPage } from './pages/policies.js';
import { runsPage } from './pages/runs.js';

interface Route {
  pattern: RegExp;
  page: Page;
  title: string;
  /** Which item of the main navigation it belongs to. */
  nav: string;
}

const ROUTES: Route[] = [
  { pattern: /^\/?(pipelines)?$/, page: pipelinesPage, title: 'Pipelines', nav: 'pipelines' },
  { pattern: /^\/pipelines\/(?<id>[^/]+)\/runs$/, page: runsPage, title: 'Runs', nav: 'runs' },
  { pattern: /^\/pipelines\/(?<id>[^/]+)\/health$/, page: healthPage, title: 'Sync health', nav: 'health' },
  { pattern: /^\/pipelines\/(?<id>[^/]+)\/person$/, page: personPage, title: 'Person', nav: 'health' },
  { pattern: /^\/pipelines\/(?<id>[^/]+)\/policies$/, page: policiesPage, title: 'Policies', nav: 'policies' },
  { pattern: /^\/connections$/, page: connectionsPage, title: 'Connections', nav: 'connections' },
];

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const signOut = document.getElementById('sign-out') as HTMLButtonElement;

/** The pipeline the per-pipeline items of the navigation lead to: the last one visited. */
let currentPipeline = 'default';
let leave = new AbortController();

function renderNav(active: string): void {
  const item = (key: string, label: string, href: string) =>
    h('a', { href, ...(key === active ? { 'aria-current': 'page' } : {}) }, label);
  render(
    nav,
    item('pipelines', 'Pipelines', links.pipelines()),
    item('runs', 'Runs', links.runs(currentPipeline)),
    item('health', 'Sync health', links.health(currentPipeline)),
    item('policies', 'Policies', links.policies(currentPipeline)),
    item('connections', 'Connections', links.connections()),
  );
}

function tokenPrompt(message?: string): void {
  leave.abort();
  nav.replaceChildren();
  signOut.hidden = true;
  document.title = 'Tandem: sign in';
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    minlength: 1,
  });
  const status = h('p', { class: 'notice notice-error', role: 'alert', hidden: !message }, message ?? '');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Open the dashboard');
  // No `name` on the input and no submission (the CSP's form-action 'none' forbids it too): the token can never
  // end up in a URL, whatever happens to this handler.
  const form = h(
    'form',
    {
      class: 'token-form',
      method: 'post',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const candidate = input.value.trim();
        if (!candidate) return;
        submit.disabled = true;
        tokenAccepted(candidate)
          .then((ok) => {
            if (!ok) {
              status.textContent = 'The API refused this token.';
              status.hidden = false;
              input.select();
              return;
            }
            token.set(candidate);
            show();
          })
          .catch((error: unknown) => {
            status.textContent = `The API could not be asked: ${errorText(error)}`;
            status.hidden = false;
          })
          .finally(() => {
            submit.disabled = false;
          });
      },
    },
    h('h1', null, 'Tandem'),
    h(
      'p',
      null,
      'Enter the API token (TANDEM_API_TOKEN, or the one printed at start). It is kept in this tab only, until it closes.',
    ),
    h('label', { for: 'token' }, 'API token'),
    input,
    submit,
    status,
  );
  render(main, form);
  input.focus();
}

/** Shows the page the fragment names. */
function show(): void {
  if (!token.get()) return tokenPrompt();
  leave.abort();
  leave = new AbortController();
  const signal = leave.signal;
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const route = ROUTES.find((r) => r.pattern.test(path));
  signOut.hidden = false;
  if (!route) {
    renderNav('');
    render(
      main,
      h('h1', null, 'Not found'),
      h('p', null, 'No page here. ', h('a', { href: '#/pipelines' }, 'Pipelines')),
    );
    return;
  }
  const params: Record<string, string> = Object.fromEntries(new URLSearchParams(query));
  for (const [key, value] of Object.entries(route.pattern.exec(path)?.groups ?? {})) {
    if (value !== undefined) params[key] = decodeURIComponent(value);
  }
  if (params['id']) currentPipeline = params['id'];
  renderNav(route.nav);
  document.title = `Tandem: ${route.title}`;
  const root = h('section', { class: 'page' });
  render(main, root);
  route
    .page({
      root,
      params,
      signal,
      go: (fragment) => {
        location.hash = fragment;
      },
      repeat: (step, everyMs) => {
        // One line for the latest failure of this loop, gone once a step succeeds again.
        const failure = h('p', { class: 'notice notice-error', role: 'alert', hidden: true });
        root.prepend(failure);
        const loop = async (): Promise<void> => {
          while (!signal.aborted) {
            try {
              await step();
              failure.hidden = true;
            } catch (error) {
              if (signal.aborted) return;
              failure.textContent = errorText(error);
              failure.hidden = false;
            }
            await new Promise((resolve) => setTimeout(resolve, everyMs));
          }
        };
        void loop();
      },
      choosePipeline: (ids) => {
        if (!ids.includes(currentPipeline) && ids[0] !== undefined) {
          currentPipeline = ids[0];
          renderNav(route.nav);
        }
      },
    })
    .catch((error: unknown) => {
      if (!signal.aborted) root.append(h('p', { class: 'notice notice-error', role: 'alert' }, errorText(error)));
    });
}

whenTokenRefused(() => tokenPrompt('The API refused the token; enter it again.'));
signOut.addEventListener('click', () => {
  token.clear();
  tokenPrompt();
});
window.addEventListener('hashchange', show);
show();
