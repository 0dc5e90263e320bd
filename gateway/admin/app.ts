// The admin port (CONTRACT §8): liveness, readiness, metrics, and the token gate of /admin/*.
import Router from '@koa/router';
import Koa from 'koa';
import type { Metrics } from '../metrics.js';
import { normalisePath } from '../policy/normalise-path.js';
import { bearerMatches } from './bearer.js';
import { mountClearancesApi } from './clearances-api.js';
import { mountClientsApi, type ClientsApiDeps } from './clients-api.js';

export interface AdminDeps extends ClientsApiDeps {
  /** The admin token in force (it may change on reload); '' disables /admin/*. */
  readonly token: () => string;
  readonly metrics: Metrics;
  /** Resolves true when the gateway should receive traffic. */
  readonly isReady: () => Promise<boolean>;
}

export function createAdminApp(deps: AdminDeps): Koa {
  const app = new Koa();
  const router = new Router({ sensitive: true, strict: false });
  app.silent = true;

  app.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    await next();
  });

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const ready = await deps.isReady();
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not ready' };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  // The gate: nothing under /admin answers without the token, and nothing at all without one set.
  app.use(async (ctx, next) => {
    // Normalised and lower-cased as the router would see it: /ADMIN/ or //admin/./ are /admin/.
    const path = normalisePath(ctx.url).toLowerCase();
    if (path !== '/admin' && !path.startsWith('/admin/')) return next();
    const token = deps.token();
    if (token === '') {
      ctx.status = 404;
      ctx.body = { detail: 'Not found.' };
      return;
    }
    if (!bearerMatches(ctx.get('authorization') || undefined, token)) {
      ctx.status = 401;
      ctx.set('www-authenticate', 'Bearer');
      ctx.body = { detail: 'A valid admin bearer token is required.' };
      return;
    }
    try {
      await next();
    } catch (error) {
      // A store that does not answer: say so, without its details.
      deps.log.warn({ event: 'admin_error', err: error }, 'admin request failed');
      ctx.status = 503;
      ctx.body = { detail: 'The store is unavailable.' };
    }
  });
  mountClientsApi(router, deps);
  mountClearancesApi(router, deps);

  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { detail: 'Not found.' };
  });
  return app;
}
