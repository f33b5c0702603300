/** What every page gets from the shell. */

export interface PageContext {
  /** The page's own element. */
  root: HTMLElement;
  /** Path parameters (`id`) and the fragment's query parameters. */
  params: Readonly<Record<string, string>>;
  /** Aborted when the reader leaves the page: its requests and its polling stop. */
  signal: AbortSignal;
  /** Runs `step` now and then every `everyMs` after each run ends, until the page is left. */
  repeat(step: () => Promise<void>, everyMs: number): void;
  /** Tells the shell which pipelines exist, so that its navigation leads to one of them. */
  choosePipeline(ids: readonly string[]): void;
  /** Goes to another page (a fragment such as `#/pipelines/default/runs`). */
  go(fragment: string): void;
}

export type Page = (context: PageContext) => Promise<void>;

/** Fragment links of pages that concern one pipeline. */
export const links = {
  pipelines: () => '#/pipelines',
  runs: (id: string) => `#/pipelines/${encodeURIComponent(id)}/runs`,
  health: (id: string) => `#/pipelines/${encodeURIComponent(id)}/health`,
  policies: (id: string) => `#/pipelines/${encodeURIComponent(id)}/policies`,
  person: (id: string, query: Record<string, string>) =>
    `#/pipelines/${encodeURIComponent(id)}/person?${new URLSearchParams(query).toString()}`,
  connections: () => '#/connections',
};
