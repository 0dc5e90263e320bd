// A static check of the templates against values.yaml: every `.Values.x.y` a template reads
// exists (a typo would silently render nothing), and every value is read by some template (a
// documented value that does nothing is a lie).
import { expect } from 'chai';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { chartValues, isMap, readText, templatesDir } from './chart.js';
import { valuesReferences, type Reference } from './values-references.js';

function allReferences(): Reference[] {
  return readdirSync(templatesDir, { recursive: true, encoding: 'utf8' })
    .filter((name) => statSync(path.join(templatesDir, name)).isFile())
    .sort()
    .flatMap((name) => valuesReferences(name, readText(path.join(templatesDir, name))));
}

/** Whether `dotted` names a key of values.yaml (any value, null included). */
function exists(values: unknown, dotted: string): boolean {
  let current = values;
  for (const key of dotted.split('.')) {
    if (!isMap(current) || !(key in current)) return false;
    current = current[key];
  }
  return true;
}

/** Every key path of values.yaml; lists and `config:` count as single values. */
function valuePaths(values: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(values).flatMap(([key, value]) => {
    const dotted = prefix + key;
    if (isMap(value) && Object.keys(value).length > 0 && dotted !== 'config') {
      return valuePaths(value, `${dotted}.`);
    }
    return [dotted];
  });
}

describe('helm chart templates: .Values references', () => {
  const values = chartValues();
  const references = allReferences();

  it('finds the references (the scanner works)', () => {
    const paths = references.map((r) => r.path);
    expect(paths).to.include.members([
      'replicaCount',
      'secret.existingSecret',
      'service.port',
      'autoscaling.enabled',
      'metrics.serviceMonitor.interval',
    ]);
  });

  it('follows with blocks', () => {
    const source = '{{- with .Values.a.b }}{{ .c }}{{- else }}{{ .d }}{{- end }}{{ .Values.e }}';
    expect(valuesReferences('x', source).map((r) => r.path)).to.deep.equal(['a.b', 'a.b.c', 'e']);
  });

  it('reads only values that exist in values.yaml', () => {
    const missing = references
      .filter((r) => !exists(values, r.path))
      .map((r) => `${r.file}:${r.line}: .Values.${r.path}`);
    expect(missing, 'not in values.yaml').to.deep.equal([]);
  });

  it('reads every value of values.yaml somewhere', () => {
    const read = references.map((r) => r.path);
    const unused = valuePaths(values).filter(
      (dotted) => !read.some((r) => dotted === r || dotted.startsWith(`${r}.`)),
    );
    expect(unused, 'never read by a template').to.deep.equal([]);
  });
});
