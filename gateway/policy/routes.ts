// Classifies a request by its normalised path: a captcha endpoint, exempt, or counted against
// the default limit plus every matching rule (or, for a shared address's own traffic, against the
// group's first matching budget). Rules are compiled once, at load.
import type { Address, AddressSet } from '../client-ip/cidr.js';
import type { Config } from '../config/schema.js';
import type { WindowLimit } from '../limiter/store.js';
import { normalisePath } from './normalise-path.js';
import { compilePathRule, type PathRuleTest } from './path-rule.js';
import type { SharedGroup } from './shared-budgets.js';

export type Route =
  | { readonly kind: 'captcha' }
  | { readonly kind: 'exempt' }
  | {
      readonly kind: 'counted';
      readonly limits: readonly WindowLimit[];
      /** Set for a shared budget: the key it is counted under instead of the client's. */
      readonly key?: string;
    };

interface CompiledRule {
  readonly matches: PathRuleTest;
  readonly limit: WindowLimit;
}

const CAPTCHA: Route = { kind: 'captcha' };
const EXEMPT: Route = { kind: 'exempt' };

/**
 * `overrides` are the methods X-HTTP-Method-Override (and alike) headers name: a rule for POST also
 * counts a GET that asks the upstream to act as a POST. `group` is the shared group whose own
 * traffic the request is (no clearance, no client named behind the address).
 */
export type Classifier = (
  method: string,
  target: string,
  client: Address,
  overrides?: readonly string[],
  group?: SharedGroup,
) => Route;

export function compileRoutes(config: Config, exemptClients: AddressSet): Classifier {
  const captchaPaths = new Set<string>();
  for (const path of config.captcha.paths) {
    captchaPaths.add(path);
    // `/users/captcha` and `/users/captcha/` are one endpoint, as Django's APPEND_SLASH makes them.
    captchaPaths.add(path.endsWith('/') ? path.slice(0, -1) : `${path}/`);
  }
  const exemptPrefixes = config.throttle.exempt.paths;
  const rules: CompiledRule[] = config.throttle.rules.map((rule) => ({
    matches: compilePathRule(rule.path, rule.methods),
    limit: { id: rule.name, limit: rule.limit, windowMs: rule.window },
  }));
  const defaultLimit: WindowLimit = {
    id: '',
    limit: config.throttle.limit,
    windowMs: config.throttle.window,
  };
  const defaultOnly: Route = { kind: 'counted', limits: [defaultLimit] };

  return (method, target, client, overrides, group) => {
    const path = normalisePath(target);
    if (captchaPaths.has(path)) return CAPTCHA;
    if (!exemptClients.empty && exemptClients.has(client)) return EXEMPT;
    if (isPlain(target, path)) {
      for (const prefix of exemptPrefixes) if (path.startsWith(prefix)) return EXEMPT;
    }
    if (group !== undefined) return group.route(path.toLowerCase(), method, overrides);
    if (rules.length === 0) return defaultOnly;
    const lower = path.toLowerCase();
    let limits: WindowLimit[] | undefined;
    for (const rule of rules) {
      if (rule.matches(lower, method, overrides)) (limits ??= [defaultLimit]).push(rule.limit);
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
