// The admin API on clients: list the throttled ones (across every Redis primary), inspect one,
// throttle one, lift a throttle. Every route here sits behind the bearer-token gate of admin/app.ts.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ipKey, parseClientAddress } from '../client-ip/ip-key.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../limiter/store.js';
import type { Logger } from '../log.js';

export interface ClientsApiDeps {
  readonly store: Store;
  /** The config in force (ipv6_prefix and block may change on reload). */
  readonly config: () => Config;
  readonly now: () => number;
  readonly log: Logger;
}

const iso = (ms: number): string | null => (ms === 0 ? null : new Date(ms).toISOString());

export function mountClientsApi(router: Router, deps: ClientsApiDeps): void {
  const { store, now, log } = deps;

  /** The limiter key of the `ip` route parameter, or undefined after answering 400. */
  const clientKey = (ctx: Context): string | undefined => {
    const address = parseClientAddress(String(ctx.params.ip ?? ''));
    if (!address) {
      ctx.status = 400;
      ctx.body = { detail: 'Not an IP address.' };
      return undefined;
    }
    return ipKey(address, deps.config().client_ip.ipv6_prefix);
  };

  // Paginated: ?limit= (1..1000, default 100) and the `cursor` of the previous page.
  router.get('/admin/throttled', async (ctx) => {
    const limit = Math.min(1000, Math.max(1, Number(ctx.query.limit) || 100));
    const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : '';
    if (!/^(\d+\.)?\d*$/.test(cursor)) {
      ctx.status = 400;
      ctx.body = { detail: 'Not a cursor.' };
      return;
    }
    const page = await store.throttled(cursor, limit, now());
    ctx.body = {
      clients: page.clients.map(({ client, untilMs }) => ({
        client,
        throttled_until: iso(untilMs),
      })),
      ...(page.cursor === '' ? {} : { cursor: page.cursor }),
    };
  });

  router.get('/admin/clients/:ip', async (ctx) => {
    const client = clientKey(ctx);
    if (client === undefined) return;
    const until = await store.throttledUntil(client, now());
    ctx.body = { client, throttled: until !== 0, throttled_until: iso(until) };
  });

  router.put('/admin/clients/:ip/throttle', async (ctx) => {
    const client = clientKey(ctx);
    if (client === undefined) return;
    const until = now() + deps.config().throttle.block;
    await store.throttle(client, until);
    log.info({ event: 'admin_throttled', client, throttled_until: iso(until) }, 'client throttled');
    ctx.status = 204;
  });

  router.delete('/admin/clients/:ip/throttle', async (ctx) => {
    const client = clientKey(ctx);
    if (client === undefined) return;
    await store.release(client);
    log.info({ event: 'admin_released', client }, 'throttle lifted and counters reset');
    ctx.status = 204;
  });
}
