// One "path prefix + methods" test, as rules and shared budgets both write it: prefixes match
// case-insensitively, `/users/login` is the `/users/login/` route too, and a rule for POST also
// matches a request whose override headers ask the upstream to act as a POST.

export type PathRuleTest = (
  lowerPath: string,
  method: string,
  overrides: readonly string[] | undefined,
) => boolean;

export function compilePathRule(path: string, methods: readonly string[]): PathRuleTest {
  const prefix = path.toLowerCase();
  const bare = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const allowed = new Set(methods);
  // HEAD is GET without a body: the upstream does the same work for it.
  if (allowed.has('GET')) allowed.add('HEAD');
  return (lower, method, overrides) => {
    if (!lower.startsWith(prefix) && lower !== bare) return false;
    return (
      allowed.size === 0 ||
      allowed.has(method) ||
      (overrides !== undefined && overrides.some((m) => allowed.has(m)))
    );
  };
}
