// The gateway's decision for a counted request, as a pure function of what the store answered.
import type { Config } from '../config/schema.js';

export type Decision =
  | { readonly kind: 'proxy'; readonly outcome: 'proxied' | 'would_throttle' }
  | { readonly kind: 'intercept'; readonly retryAfterS: number }
  | { readonly kind: 'unavailable' };

export interface Facts {
  /** Epoch ms until which the client is throttled (0: not throttled); null when the store failed. */
  readonly throttledUntilMs: number | null;
  readonly nowMs: number;
}

export interface PolicyOptions {
  readonly mode: Config['throttle']['mode'];
  readonly onStoreError: Config['store']['redis']['on_error'];
}

const PROXY: Decision = { kind: 'proxy', outcome: 'proxied' };
const WOULD_THROTTLE: Decision = { kind: 'proxy', outcome: 'would_throttle' };
const UNAVAILABLE: Decision = { kind: 'unavailable' };

export function decide(facts: Facts, options: PolicyOptions): Decision {
  const until = facts.throttledUntilMs;
  if (until === null) return options.onStoreError === 'allow' ? PROXY : UNAVAILABLE;
  if (until <= facts.nowMs) return PROXY;
  if (options.mode === 'observe') return WOULD_THROTTLE;
  return { kind: 'intercept', retryAfterS: Math.max(1, Math.ceil((until - facts.nowMs) / 1000)) };
}
