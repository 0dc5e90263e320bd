// The admin API on clearances: look one up by its id (the log's `clearance:<id>`), revoke it
// (throttle it for the rest of its life), lift its throttle. Behind the bearer-token gate.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ClientsApiDeps } from './clients-api.js';

const ID = /^[0-9a-f]{32}$/;
const iso = (ms: number): string | null => (ms === 0 ? null : new Date(ms).toISOString());

export function mountClearancesApi(router: Router, deps: ClientsApiDeps): void {
  const { store, now, log } = deps;

  /** The limiter key of the `id` route parameter, or undefined after answering 400. */
  const clearanceKey = (ctx: Context): string | undefined => {
    const id = String(ctx.params.id ?? '').toLowerCase();
    if (!ID.test(id)) {
      ctx.status = 400;
      ctx.body = { detail: 'Not a clearance id (32 hex characters).' };
      return undefined;
    }
    return `clearance:${id}`;
  };

  router.get('/admin/clearances/:id', async (ctx) => {
    const client = clearanceKey(ctx);
    if (client === undefined) return;
    const until = await store.throttledUntil(client, now());
    ctx.body = { client, throttled: until !== 0, throttled_until: iso(until) };
  });

  // A clearance lives at most clearance.ttl: throttled that long (or block, if longer), it is
  // worth nothing for the rest of its life. Its holder may solve the captcha for a new one.
  router.put('/admin/clearances/:id/throttle', async (ctx) => {
    const client = clearanceKey(ctx);
    if (client === undefined) return;
    const config = deps.config();
    const until = now() + Math.max(config.clearance.ttl, config.throttle.block);
    await store.throttle(client, until);
    log.info(
      { event: 'admin_throttled', client, throttled_until: iso(until) },
      'clearance revoked',
    );
    ctx.status = 204;
  });

  router.delete('/admin/clearances/:id/throttle', async (ctx) => {
    const client = clearanceKey(ctx);
    if (client === undefined) return;
    await store.release(client);
    log.info({ event: 'admin_released', client }, 'clearance throttle lifted');
    ctx.status = 204;
  });
}
