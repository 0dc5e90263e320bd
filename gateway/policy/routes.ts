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
  /** Empty: every method. */
  readonly methods: ReadonlySet<string>;
  readonly limit: WindowLimit;
}

const CAPTCHA: Route = { kind: 'captcha' };
const EXEMPT: Route = { kind: 'exempt' };

export type Classifier = (method: string, target: string, client: Address) => Route;

export function compileRoutes(config: Config, exemptClients: AddressSet): Classifier {
  const captchaPaths = new Set<string>();
  for (const path of config.captcha.paths) {
    captchaPaths.add(path);
    // `/users/captcha` and `/users/captcha/` are one endpoint, as Django's APPEND_SLASH makes them.
    captchaPaths.add(path.endsWith('/') ? path.slice(0, -1) : `${path}/`);
  }
  const exemptPrefixes = config.throttle.exempt.paths;
  const rules: CompiledRule[] = config.throttle.rules.map((rule) => ({
    prefix: rule.path.toLowerCase(),
    methods: new Set(rule.methods),
    limit: { id: rule.name, limit: rule.limit, windowMs: rule.window },
  }));
  const defaultLimit: WindowLimit = {
    id: '',
    limit: config.throttle.limit,
    windowMs: config.throttle.window,
  };
  const defaultOnly: Route = { kind: 'counted', limits: [defaultLimit] };

  return (method, target, client) => {
    const path = normalisePath(target);
    if (captchaPaths.has(path)) return CAPTCHA;
    if (!exemptClients.empty && exemptClients.has(client)) return EXEMPT;
    for (const prefix of exemptPrefixes) if (path.startsWith(prefix)) return EXEMPT;
    if (rules.length === 0) return defaultOnly;
    const lower = path.toLowerCase();
    let limits: WindowLimit[] | undefined;
    for (const rule of rules) {
      if (!lower.startsWith(rule.prefix)) continue;
      if (rule.methods.size > 0 && !rule.methods.has(method)) continue;
      (limits ??= [defaultLimit]).push(rule.limit);
    }
    return limits ? { kind: 'counted', limits } : defaultOnly;
  };
}
