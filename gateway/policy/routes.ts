// Classifies a request by its normalised path: a captcha endpoint, exempt, or counted against
// the default limit plus every matching rule. Rules are compiled once, at load.
import type { Address, AddressSet } from '../client-ip/cidr.js';
import type { Config } from '../config/schema.js';
import type { WindowLimit } from '../limiter/store.js';
import { normalisePath } from './normalise-path.js';

export type Route =
  | { readonly kind: 'captcha' }
  | { readonly kind: 'exempt' }
  | { readonly kind: 'counted'; readonly limits: readonly WindowLimit[] };

interface CompiledRule {
  /** Lower-cased: rules match case-insensitively. */
  readonly prefix: string;
  /** The prefix without its trailing slash: `/users/login` is the login route too. */
  readonly bare: string;
  /** Empty: every method. */
  readonly methods: ReadonlySet<string>;
  readonly limit: WindowLimit;
}

const CAPTCHA: Route = { kind: 'captcha' };
const EXEMPT: Route = { kind: 'exempt' };

/**
 * `overrides` are the methods X-HTTP-Method-Override (and alike) headers name: a rule for POST also
 * counts a GET that asks the upstream to act as a POST.
 */
export type Classifier = (
  method: string,
  target: string,
  client: Address,
  overrides?: readonly string[],
) => Route;

export function compileRoutes(config: Config, exemptClients: AddressSet): Classifier {
  const captchaPaths = new Set<string>();
  for (const path of config.captcha.paths) {
    captchaPaths.add(path);
    // `/users/captcha` and `/users/captcha/` are one endpoint, as Django's APPEND_SLASH makes them.
    captchaPaths.add(path.endsWith('/') ? path.slice(0, -1) : `${path}/`);
  }
  const exemptPrefixes = config.throttle.exempt.paths;
  const rules: CompiledRule[] = config.throttle.rules.map((rule) => {
    const prefix = rule.path.toLowerCase();
    const methods = new Set(rule.methods);
    // HEAD is GET without a body: the upstream does the same work for it.
    if (methods.has('GET')) methods.add('HEAD');
    return {
      prefix,
      bare: prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix,
      methods,
      limit: { id: rule.name, limit: rule.limit, windowMs: rule.window },
    };
  });
  const defaultLimit: WindowLimit = {
    id: '',
    limit: config.throttle.limit,
    windowMs: config.throttle.window,
  };
  const defaultOnly: Route = { kind: 'counted', limits: [defaultLimit] };

  return (method, target, client, overrides) => {
    const path = normalisePath(target);
    if (captchaPaths.has(path)) return CAPTCHA;
    if (!exemptClients.empty && exemptClients.has(client)) return EXEMPT;
    if (isPlain(target, path)) {
      for (const prefix of exemptPrefixes) if (path.startsWith(prefix)) return EXEMPT;
    }
    if (rules.length === 0) return defaultOnly;
    const lower = path.toLowerCase();
    let limits: WindowLimit[] | undefined;
    for (const rule of rules) {
      if (!lower.startsWith(rule.prefix) && lower !== rule.bare) continue;
      if (
        rule.methods.size > 0 &&
        !rule.methods.has(method) &&
        (overrides === undefined || !overrides.some((m) => rule.methods.has(m)))
      ) {
        continue;
      }
      (limits ??= [defaultLimit]).push(rule.limit);
    }
    return limits ? { kind: 'counted', limits } : defaultOnly;
  };
}

/**
 * Exemption is for targets the upstream cannot read as another path: written in normal form, with
 * no percent-encoding (it could be decoded twice) and no `;` (path parameters: `/static/..;/api/`
 * is `/api/` to some servers). Anything else is counted, which is never the unsafe side.
 */
function isPlain(target: string, normalised: string): boolean {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  return path === normalised && !path.includes('%') && !path.includes(';');
}
