/**
 * What the router alone cannot say: which methods a path has (a wrong method is a 405 with `Allow`, RFC 9110
 * §15.5.6, not a 404), and which routes are public. find-my-way is the router Fastify itself uses, so a
 * path matches here exactly when it would match a route there.
 */
import FindMyWay from 'find-my-way';
import type { RouteOptions } from 'fastify';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * Routes under these prefixes are public (CONTRACT.md), as they hold no data: the API documentation (Swagger
 * UI, its assets and `/docs/json`) and the dashboard's static files.
 */
const PUBLIC_PREFIXES = ['/docs', '/ui'];

export class RouteIndex {
  private readonly router = FindMyWay({ maxParamLength: Number.MAX_SAFE_INTEGER });
  private readonly seen = new Set<string>();

  /** For an `onRoute` hook: records the route and marks documentation routes public. */
  readonly onRoute = (route: RouteOptions): void => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const key = `${method} ${route.url}`;
      if (this.seen.has(key) || !(METHODS as readonly string[]).includes(method)) continue;
      this.seen.add(key);
      this.router.on(method as (typeof METHODS)[number], route.url, () => undefined);
    }
    if (PUBLIC_PREFIXES.some((p) => route.url === p || route.url.startsWith(`${p}/`))) {
      route.config = { ...route.config, public: true };
    }
  };

  /** The methods some route answers at `url` (empty: no route has this path). */
  allowed(url: string): string[] {
    const path = url.split('?')[0] ?? url;
    return METHODS.filter((method) => {
      try {
        return this.router.find(method, path) !== null;
      } catch {
        return false;
      }
    });
  }
}
