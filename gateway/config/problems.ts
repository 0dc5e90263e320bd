// Turns schema issues into the lines operators read: `path.to.key: what is wrong (what is allowed)`.
import type { z } from 'zod';
import { show } from './fields.js';

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
};
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The keys an object schema at `path` allows, for "unknown key" messages. */
function allowedKeys(root: z.ZodType, path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = root;
  const segments = [...path];
  while (schema) {
    const def = defOf(schema);
    if (def.type === 'prefault' || def.type === 'default' || def.type === 'optional') {
      schema = def.innerType;
    } else if (def.type === 'pipe') {
      schema = def.in;
    } else if (segments.length === 0) {
      return def.type === 'object' ? Object.keys(def.shape ?? {}) : [];
    } else {
      const segment = segments.shift();
      if (def.type === 'object') schema = def.shape?.[String(segment)];
      else if (def.type === 'array') schema = def.element;
      else if (def.type === 'record') schema = def.valueType;
      else return [];
    }
  }
  return [];
}

/** Keys whose values never appear in a problem line: problems are printed and logged. */
const SECRET_KEYS = new Set(['secret', 'token', 'password', 'sentinel_password', 'url']);
const isSecret = (path: readonly PropertyKey[]): boolean =>
  path.length > 0 && SECRET_KEYS.has(String(path[path.length - 1])) && path[0] !== 'upstream';

export function describeIssues(root: z.ZodType, issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const where = issue.path.map(String).join('.');
    const prefix = where === '' ? 'config' : where;
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(root, issue.path).join(', ');
      for (const key of issue.keys) {
        const full = where === '' ? key : `${where}.${key}`;
        lines.push(`${full}: unknown key (allowed here: ${allowed})`);
      }
    } else if (issue.code === 'custom' && isSecret(issue.path) && issue.params?.expected) {
      lines.push(`${prefix}: the value (not shown) is not ${String(issue.params.expected)}`);
    } else if (issue.code === 'invalid_type') {
      const what =
        issue.expected === 'object'
          ? 'a mapping of keys'
          : issue.expected === 'array'
            ? 'a list'
            : `a ${issue.expected}`;
      lines.push(`${prefix}: ${show(issue.input)} is not ${what}`);
    } else {
      lines.push(`${prefix}: ${issue.message}`);
    }
  }
  return lines;
}
