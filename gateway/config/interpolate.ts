// Replaces ${NAME} and ${NAME:-default} in every string of a parsed YAML document, so secrets can
// come from the environment (Kubernetes Secrets). An unset ${NAME} without a default is a problem
// reported with the key's path: a missing secret must stop the start, not run with "".

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationProblem {
  readonly path: string;
  readonly message: string;
}

export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: InterpolationProblem[],
  path: readonly (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_whole, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push({
        path: path.join('.'),
        message: `environment variable ${name} is not set (set it, or write \${${name}:-default})`,
      });
      return '';
    });
  }
  if (Array.isArray(value))
    return value.map((item, i) => interpolate(item, env, problems, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = interpolate(item, env, problems, [...path, key]);
    return out;
  }
  return value;
}
