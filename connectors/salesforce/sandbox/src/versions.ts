/**
 * API versions the org serves, with their release labels: three releases a year, Winter '11 being 20.0
 * (so 63.0 is Spring '25). `GET /services/data/` lists them; `latest` is an alias of the newest.
 * https://developer.salesforce.com/docs/platform/api-rest/guide/dome-versions.md
 */
export const MIN_VERSION = 31;
/** The newest version served (Spring '26). */
export const MAX_VERSION = 66;
export const DEFAULT_API_VERSION = 'v63.0';

export function versionLabel(major: number): string {
  const offset = major - 20;
  const season = ['Winter', 'Spring', 'Summer'][((offset % 3) + 3) % 3];
  const year = 11 + Math.floor(offset / 3);
  return `${season} '${String(year).padStart(2, '0')}`;
}

export function listVersions(max: number = MAX_VERSION): Array<{ label: string; url: string; version: string }> {
  const out = [];
  for (let v = MIN_VERSION; v <= max; v++) {
    out.push({ label: versionLabel(v), url: `/services/data/v${v}.0`, version: `${v}.0` });
  }
  return out;
}

/** `v63.0` (or `latest`) as the version segment the API serves, or undefined. */
export function resolveVersion(segment: string, max: number = MAX_VERSION): string | undefined {
  if (segment === 'latest') return `v${max}.0`;
  const m = /^v(\d+)\.0$/.exec(segment);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major >= MIN_VERSION && major <= max ? `v${major}.0` : undefined;
}
