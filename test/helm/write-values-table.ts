// Rewrites the values table of the chart README from values.yaml and its "# --" comments:
// `npx tsx test/helm/write-values-table.ts && npx prettier --write helm/captcha-gateway/README.md`.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chartDir, chartValues } from './chart.js';
import { valuesTable } from './values-keys.js';

const readmeFile = path.join(chartDir, 'README.md');
const readme = readFileSync(readmeFile, 'utf8').split('\n');
const heading = readme.indexOf('## Values');
if (heading < 0) throw new Error(`${readmeFile} has no "## Values" section`);
const start = readme.findIndex((line, i) => i > heading && line.startsWith('|'));
if (start < 0) throw new Error(`${readmeFile}: no table under "## Values"`);
let end = start;
while (end < readme.length && readme[end]!.startsWith('|')) end++;
const table = valuesTable(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8'), chartValues());
readme.splice(start, end - start, ...table);
writeFileSync(readmeFile, readme.join('\n'));
