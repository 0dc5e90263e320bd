// Reads a YAML config file into the frozen, typed Config, or into the full list of its problems.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { interpolate, type InterpolationProblem } from './interpolate.js';
import { describeIssues } from './problems.js';
import { configSchema, type Config } from './schema.js';

export type LoadResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly problems: readonly string[] };

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    return { ok: false, problems: [`${file}: cannot be read (${code})`] };
  }
  return parseConfig(source, env, file);
}

export function parseConfig(source: string, env: NodeJS.ProcessEnv, file = 'config'): LoadResult {
  const document = parseDocument(source, { prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((e) => {
        const at = e.linePos?.[0];
        return `${file}${at ? `:${at.line}:${at.col}` : ''}: ${e.message.split('\n')[0]} (not valid YAML)`;
      }),
    };
  }
  const raw: unknown = document.toJS() ?? {};
  const envProblems: InterpolationProblem[] = [];
  const interpolated = interpolate(raw, env, envProblems);
  const problems = envProblems.map((p) => `${p.path}: ${p.message}`);
  const result = configSchema.safeParse(interpolated, { reportInput: true });
  if (!result.success) problems.push(...describeIssues(configSchema, result.error.issues));
  if (problems.length > 0 || !result.success)
    return { ok: false, problems: [...new Set(problems)] };
  return { ok: true, config: deepFreeze(result.data) };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
