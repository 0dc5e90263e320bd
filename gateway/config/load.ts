// Reads a YAML config file into the frozen, typed Config and its warnings, or into the full list of
// its problems.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { interpolate, type InterpolationProblem } from './interpolate.js';
import { describeIssues } from './problems.js';
import { configSchema, type Config } from './schema.js';
import { configWarnings, type ConfigWarning } from './warnings.js';

export type LoadResult =
  | {
      readonly ok: true;
      readonly config: Config;
      /** Valid but probably unintended settings (gateway/config/warnings.ts). */
      readonly warnings: readonly ConfigWarning[];
    }
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
  // Positions come from a LineCounter rather than `prettyErrors`, which would also append an
  // excerpt of the file to each message: problem lines stay one line each.
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((e) => {
        const at = lineCounter.linePos(e.pos[0]);
        return `${file}:${at.line}:${at.col}: ${e.message.split('\n')[0]} (not valid YAML)`;
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
  const config = deepFreeze(result.data);
  return { ok: true, config, warnings: configWarnings(config) };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
