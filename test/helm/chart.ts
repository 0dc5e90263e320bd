// The Helm chart's files as the helm tests see them: paths, values merged the way Helm merges
// them, and a template's YAML skeleton (Go-template actions stripped) for structure checks.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const chartDir = path.join(root, 'helm/captcha-gateway');
export const templatesDir = path.join(chartDir, 'templates');
export const fixturesDir = path.join(root, 'test/helm/fixtures');

export type Values = Record<string, unknown>;

export function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}

export function readYaml(file: string): unknown {
  return parse(readText(file));
}

/** The YAML files of a directory, by absolute path, sorted. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => path.join(dir, name));
}

export function chartValues(): Values {
  const values = readYaml(path.join(chartDir, 'values.yaml'));
  if (!isMap(values)) throw new Error('values.yaml is not a mapping');
  return values;
}

/**
 * Helm's merge of a user values file over the chart's defaults: maps merge key by key, anything
 * else (lists included) is replaced, and a user null removes the default.
 */
export function mergeValues(defaults: Values, user: Values): Values {
  const merged: Values = structuredClone(defaults);
  for (const [key, value] of Object.entries(user)) {
    const base = merged[key];
    if (value === null) delete merged[key];
    else if (isMap(base) && isMap(value)) merged[key] = mergeValues(base, value);
    else merged[key] = structuredClone(value);
  }
  return merged;
}

/** The chart's values with a values file (ci/ or a fixture) applied. */
export function valuesWith(file: string): Values {
  const user = readYaml(file) ?? {};
  if (!isMap(user)) throw new Error(`${file} is not a mapping`);
  return mergeValues(chartValues(), user);
}

/** The value at a dotted path, or undefined. */
export function valueAt(values: unknown, dotted: string): unknown {
  let current = values;
  for (const key of dotted.split('.')) {
    if (!isMap(current) || !(key in current)) return undefined;
    current = current[key];
  }
  return current;
}

/** The template files that render resources (not helpers, not NOTES.txt). */
export function resourceTemplates(): string[] {
  return yamlFiles(templatesDir);
}

/**
 * A template's YAML skeleton: comment actions removed, lines holding only actions (control flow,
 * `include ... | nindent`, `toYaml ... | nindent`) dropped, and every other action replaced by
 * the scalar TEMPLATED. Both branches of an if/else survive, so duplicate keys are allowed when
 * the result is parsed. A raw string in an action (`{{ \`{{ $value }}\` }}`, text meant for
 * Prometheus) is part of its action.
 */
/** One Go-template action; a raw or quoted string in it may hold "}}". */
export const ACTION = /\{\{-?(?:`[^`]*`|"(?:[^"\\]|\\.)*"|[^}`"]|\}(?!\}))*\}\}/g;

export function skeleton(source: string): string {
  return source
    .replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '')
    .split('\n')
    .filter((line) => line.replace(ACTION, '').trim() !== '' || !line.includes('{{'))
    .join('\n')
    .replace(ACTION, 'TEMPLATED');
}
