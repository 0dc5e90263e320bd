// values.yaml documents every value with a "# --" comment (the helm-docs convention the
// ingress-nginx and Traefik charts use), and the chart README's values table lists each one.
import { expect } from 'chai';
import path from 'node:path';
import { chartDir, chartValues, readText } from './chart.js';
import { valuesKeys, valuesTable } from './values-keys.js';

describe('helm chart values documentation', () => {
  const keys = valuesKeys(readText(path.join(chartDir, 'values.yaml')));
  const documented = keys.filter((k) => k.documented).map((k) => k.path);

  it('finds the keys of values.yaml', () => {
    expect(keys.map((k) => k.path)).to.include.members([
      'image.repository',
      'config.listen.drain_timeout',
      'metrics.serviceMonitor.enabled',
    ]);
  });

  it('documents every value with "# --" (on the key or on a parent that is one value)', () => {
    const covered = (dotted: string) =>
      documented.some((d) => dotted === d || dotted.startsWith(`${d}.`));
    const leaves = keys.filter((k) => !keys.some((o) => o.path.startsWith(`${k.path}.`)));
    const undocumented = leaves.filter((k) => !covered(k.path)).map((k) => `${k.line}: ${k.path}`);
    expect(undocumented).to.deep.equal([]);
  });

  it('has the values table in the chart README (Key, Type, Default, Description)', () => {
    // Prettier pads the cells; compare with runs of spaces and dashes collapsed.
    const normal = (row: string) => row.replace(/ {2,}/g, ' ').replace(/-{3,}/g, '---').trim();
    const readme = readText(path.join(chartDir, 'README.md')).split('\n').map(normal);
    const table = valuesTable(readText(path.join(chartDir, 'values.yaml')), chartValues());
    const missing = table.filter((row) => !readme.includes(normal(row)));
    expect(
      missing,
      'rows missing from README.md: npx tsx test/helm/write-values-table.ts, then prettier --write',
    ).to.deep.equal([]);
  });

  it('shows ci/production-redis-values.yaml verbatim as the README production example', () => {
    const readme = readText(path.join(chartDir, 'README.md'));
    const example = readText(path.join(chartDir, 'ci/production-redis-values.yaml'));
    expect(readme).to.include('```yaml\n' + example + '```');
  });
});
