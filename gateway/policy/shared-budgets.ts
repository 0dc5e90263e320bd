// Addresses many clients share (a headless storefront's servers, an office NAT). Their own traffic,
// the requests that name no client behind them and carry no clearance, is counted in budgets: each
// budget has its own count and its own throttle, shared by the whole group, so a bot burning the
// login budget leaves the page-data budget untouched.
import { AddressSet, type Address } from '../client-ip/cidr.js';
import type { Config } from '../config/schema.js';
import type { WindowLimit } from '../limiter/store.js';
import { compilePathRule, type PathRuleTest } from './path-rule.js';

/** Where one request of a group's own traffic is counted. */
export interface BudgetRoute {
  readonly kind: 'counted';
  readonly limits: readonly WindowLimit[];
  /** The limiter key: `shared:<group>:<budget>`, or `shared:<group>` when no budget matched. */
  readonly key: string;
}

export interface SharedGroup {
  readonly name: string;
  /** What the group's captcha answers are bound to: `shared:<group>`. */
  readonly key: string;
  /** The first budget that matches, else the default limit under the group's own key. */
  route(lowerPath: string, method: string, overrides: readonly string[] | undefined): BudgetRoute;
}

export interface SharedGroups {
  /** The group `address` belongs to (the first that lists it), if any. */
  groupOf(address: Address): SharedGroup | undefined;
}

export function compileSharedGroups(config: Config): SharedGroups {
  const groups = config.throttle.shared.map((group) => {
    const key = `shared:${group.name}`;
    const budgets = group.budgets.map((budget) => ({
      matches: compilePathRule(budget.path, budget.methods) as PathRuleTest,
      route: {
        kind: 'counted',
        key: `${key}:${budget.name}`,
        limits: [{ id: budget.name, limit: budget.limit, windowMs: budget.window }],
      } as BudgetRoute,
    }));
    const fallback: BudgetRoute = {
      kind: 'counted',
      key,
      limits: [{ id: '', limit: config.throttle.limit, windowMs: config.throttle.window }],
    };
    const shared: SharedGroup = {
      name: group.name,
      key,
      route(lower, method, overrides) {
        for (const budget of budgets)
          if (budget.matches(lower, method, overrides)) return budget.route;
        return fallback;
      },
    };
    return { addresses: new AddressSet(group.addresses), shared };
  });
  return {
    groupOf(address) {
      for (const group of groups) if (group.addresses.has(address)) return group.shared;
      return undefined;
    },
  };
}
