/**
 * How long a GET URL may be on the way to one organisation. Dataverse takes 32 KB
 * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/overview#url-length-limitations),
 * but a proxy, gateway or firewall in front of it often takes less, and says so with 414 or 431, or by closing the
 * connection. Once a URL of some length was refused, URLs half as long or longer are sent inside `$batch` (where
 * the URL travels in the body and may be 64 KB) for the rest of the process: the failure is paid once, and each
 * further one halves the length, so a run meets at most a handful of them whatever the gateway's limit.
 */

/** URLs shorter than this are never suspected of being too long: no gateway worth the name refuses them. */
export const SHORTEST_SUSPECT_URL = 2048;

/** What was learnt per Web API base URL, kept across connector instances for the life of the process. */
const learned = new Map<string, number>();

export class UrlLengthLimit {
  constructor(private readonly apiBase: string) {}

  /** The length from which GETs go inside `$batch`, once something refused one. */
  get limit(): number | undefined {
    return learned.get(this.apiBase);
  }

  /** A GET this long has been refused before (or one half as long or more): send it inside `$batch`. */
  refuses(url: string): boolean {
    const limit = this.limit;
    return limit !== undefined && url.length >= limit;
  }

  /** Whether a refusal (414, 431, a dropped connection) of this URL may be about its length. */
  suspect(url: string): boolean {
    return url.length >= SHORTEST_SUSPECT_URL;
  }

  /** A URL of `length` characters was refused; returns the length from which GETs now go inside `$batch`. */
  refused(length: number): number {
    const limit = Math.max(SHORTEST_SUSPECT_URL, Math.min(this.limit ?? Infinity, Math.floor(length / 2)));
    learned.set(this.apiBase, limit);
    return limit;
  }
}
