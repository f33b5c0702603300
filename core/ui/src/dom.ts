/**
 * A few lines in place of a framework: `h()` builds elements, and text always goes in as text nodes, never as
 * HTML, so nothing a remote system put in a record or an error message can become markup or script.
 */

export type Child = Node | string | number | null | undefined | false | readonly Child[];
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);
export type Attrs = Record<string, AttrValue>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child as readonly Child[]);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces `parent`'s content. */
export function render(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** An ISO time as the reader's local time, in a `<time>` element holding the exact value. */
export function time(iso: string | null | undefined): Child {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, dateTime.format(new Date(iso)));
}

/** How long from `from` to `to` (or now), roughly: `850 ms`, `12 s`, `3 min 5 s`, `2 h 10 min`. */
export function duration(from: string | null, to: string | null): string {
  if (!from) return '—';
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  if (ms < 1000) return `${Math.max(0, ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function badge(text: string, kind = text): HTMLSpanElement {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** A table from a header row and body rows. */
export function table(
  head: readonly Child[],
  rows: readonly (readonly Child[])[],
  attrs: Attrs = {},
): HTMLTableElement {
  return h(
    'table',
    attrs,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        head.map((cell) => h('th', { scope: 'col' }, cell)),
      ),
    ),
    h(
      'tbody',
      null,
      rows.map((row) =>
        h(
          'tr',
          null,
          row.map((cell) => h('td', null, cell)),
        ),
      ),
    ),
  );
}

/** A message at the top of a page: what just happened, or what went wrong. */
export function notice(text: string, kind: 'info' | 'error' = 'info'): HTMLParagraphElement {
  return h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** Text of an error for a reader. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
