// The Grafana dashboard (helm/captcha-gateway/dashboards/captcha-gateway.json) and the ConfigMap that
// ships it: the JSON is a dashboard whose queries name only metrics the gateway really exports
// (its own registry, read from gateway/metrics.ts, plus prom-client's default process metrics),
// every panel says what it shows, and the chart renders it for Grafana's sidecar only when asked to.
import { expect } from 'chai';
import path from 'node:path';
import { createMetrics } from '../../gateway/metrics.js';
import { OUTCOMES } from '../../gateway/request-metrics.js';
import { chartDir, chartValues, isMap, readText, templatesDir, valueAt } from './chart.js';
import {
  defaultMetrics,
  gatewayMetrics,
  metricNames,
  seriesIn,
  type MetricType,
} from './promql.js';

const DASHBOARD_FILE = 'dashboards/captcha-gateway.json';
const dashboardText = readText(path.join(chartDir, DASHBOARD_FILE));

/** Every query of a gateway panel keeps to the pods chosen with the dashboard's variables. */
const SELECTOR = 'namespace=~"$namespace", job=~"$job", pod=~"$pod"';
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

type Json = Record<string, unknown>;

function parseDashboard(): Json {
  const parsed: unknown = JSON.parse(dashboardText);
  if (!isMap(parsed)) throw new Error(`${DASHBOARD_FILE} is not a JSON object`);
  return parsed;
}

function maps(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isMap) : [];
}

/** A PromQL query of the dashboard, and where it is. */
interface Query {
  readonly where: string;
  readonly expr: string;
}

/** Every panel, rows' collapsed panels included. */
function allPanels(dashboard: Json): Json[] {
  return maps(dashboard.panels).flatMap((p) => [p, ...maps(p.panels)]);
}

function panelQueries(dashboard: Json): Query[] {
  return allPanels(dashboard).flatMap((panel) =>
    maps(panel.targets).map((t) => ({
      where: `panel "${String(panel.title)}"`,
      expr: String(t.expr),
    })),
  );
}

function variables(dashboard: Json): Json[] {
  return maps(valueAt(dashboard, 'templating.list'));
}

/** A query variable's `label_values(<series selector>, <label>)`, split in its two parts. */
function labelValues(variable: Json): { selector: string; label: string } | undefined {
  const query = isMap(variable.query) ? variable.query.query : variable.query;
  const match = /^label_values\((.+),\s*([A-Za-z_]\w*)\)$/.exec(String(query));
  return match ? { selector: match[1]!, label: match[2]! } : undefined;
}

/** Every PromQL expression of the dashboard: panel targets, variables and annotations. */
function allQueries(dashboard: Json): Query[] {
  const fromVariables = variables(dashboard).flatMap((v) => {
    const parts = labelValues(v);
    return parts ? [{ where: `variable $${String(v.name)}`, expr: parts.selector }] : [];
  });
  const fromAnnotations = maps(valueAt(dashboard, 'annotations.list'))
    .filter((a) => typeof a.expr === 'string')
    .map((a) => ({ where: `annotation "${String(a.name)}"`, expr: String(a.expr) }));
  return [...panelQueries(dashboard), ...fromVariables, ...fromAnnotations];
}

describe('helm chart Grafana dashboard', () => {
  const dashboard = parseDashboard();
  const panels = allPanels(dashboard);
  const shown = panels.filter((p) => p.type !== 'row');
  let known: Map<string, MetricType>;

  before(async () => {
    known = new Map([...(await defaultMetrics()), ...(await gatewayMetrics())]);
  });

  describe('the metric name scanner', () => {
    it('finds the metrics of an expression, not its functions, labels, keywords or numbers', () => {
      const expr =
        'histogram_quantile(0.95, sum by (outcome, le) (rate(a_bucket{x=~"b|c", y="$d"}[$__rate_interval]))) / on (pod) group_left b_total offset 5m or vector(0) > bool 1e3';
      expect(metricNames(expr)).to.deep.equal(['a_bucket', 'b_total']);
    });

    it("reads the gateway's own registry, histograms as their series", async () => {
      const gateway = await gatewayMetrics();
      expect([...gateway.keys()]).to.include.members([
        'gateway_requests_total',
        'gateway_request_duration_seconds_bucket',
        'gateway_request_duration_seconds_count',
        'gateway_throttled_clients',
      ]);
      expect(gateway.get('gateway_throttled_clients')).to.equal('gauge');
      expect(gateway.get('gateway_requests_total')).to.equal('counter');
      const withProcess = await seriesIn(createMetrics().registry);
      expect(withProcess.has('process_cpu_seconds_total'), 'the process panels need them').to.equal(
        true,
      );
    });
  });

  describe('the JSON', () => {
    it('is a Grafana dashboard with a stable uid, a title and a current schema version', () => {
      expect(dashboard).to.include({ uid: 'captcha-gateway', title: 'captcha-gateway', id: null });
      expect(dashboard.schemaVersion).to.be.within(36, 41);
      expect(String(dashboard.description)).to.have.length.greaterThan(20);
      expect(shown).to.have.length.greaterThan(10);
    });

    it("stays far below the size a ConfigMap (and kubectl apply's annotation) can hold", () => {
      expect(Buffer.byteLength(dashboardText)).to.be.below(256 * 1024);
    });

    it('gives every panel a title, and every panel but the rows a description', () => {
      const untitled = panels.filter((p) => typeof p.title !== 'string' || p.title.trim() === '');
      expect(untitled.map((p) => p.id)).to.deep.equal([]);
      const undescribed = shown.filter(
        (p) => typeof p.description !== 'string' || p.description.trim().length < 20,
      );
      expect(undescribed.map((p) => p.title)).to.deep.equal([]);
    });

    it('gives every panel its own id and a place on the 24-column grid, without overlaps', () => {
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, 'unique ids').to.equal(ids.length);
      const taken = new Map<string, unknown>();
      for (const panel of maps(dashboard.panels)) {
        const { x, y, w, h } = (panel.gridPos ?? {}) as Record<string, number>;
        expect([x, y, w, h].every(Number.isInteger), `gridPos of ${String(panel.title)}`).to.equal(
          true,
        );
        expect(x! + w!, `${String(panel.title)} fits in 24 columns`).to.be.at.most(24);
        for (let row = y!; row < y! + h!; row++) {
          for (let column = x!; column < x! + w!; column++) {
            const cell = `${column},${row}`;
            expect(taken.get(cell), `${String(panel.title)} overlaps`).to.equal(undefined);
            taken.set(cell, panel.title);
          }
        }
      }
    });
  });

  describe('variables and data source', () => {
    const list = variables(dashboard);

    it('has a datasource variable of type prometheus, first', () => {
      expect(list[0]).to.include({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    });

    it('reads the Prometheus of the datasource variable in every panel and every query', () => {
      for (const panel of shown) {
        expect(panel.datasource, `panel "${String(panel.title)}"`).to.deep.equal(DATASOURCE);
        expect(
          maps(panel.targets),
          `panel "${String(panel.title)}" has queries`,
        ).to.have.length.greaterThan(0);
        for (const target of maps(panel.targets)) {
          expect(target.datasource, `a query of "${String(panel.title)}"`).to.deep.equal(
            DATASOURCE,
          );
        }
      }
      for (const variable of list.filter((v) => v.type === 'query')) {
        expect(variable.datasource, `$${String(variable.name)}`).to.deep.equal(DATASOURCE);
      }
    });

    it('selects namespace, job and pod from the labels of gateway_requests_total', () => {
      const byName = new Map(list.map((v) => [v.name, v]));
      for (const name of ['namespace', 'job', 'pod']) {
        const variable = byName.get(name);
        expect(variable, `$${name}`).to.include({ type: 'query', includeAll: true, multi: true });
        // "All" as .* also matches series without the label (a scrape outside Kubernetes).
        expect(variable?.allValue, `$${name}`).to.equal('.*');
        const parts = variable && labelValues(variable);
        expect(parts?.label, `$${name}`).to.equal(name);
        expect(metricNames(parts?.selector ?? ''), `$${name}`).to.deep.equal([
          'gateway_requests_total',
        ]);
      }
    });
  });

  describe('queries', () => {
    const queries = allQueries(dashboard);

    it('finds the queries (the scanner works)', () => {
      expect(queries.length).to.be.greaterThan(20);
      const names = queries.flatMap((q) => metricNames(q.expr));
      expect(names).to.include.members(['gateway_requests_total', 'process_cpu_seconds_total']);
    });

    it("reads only metrics that the gateway or Node's default metrics export", () => {
      const unknown = queries.flatMap((q) =>
        metricNames(q.expr)
          .filter((name) => !known.has(name))
          .map((name) => `${q.where}: ${name}`),
      );
      expect(unknown).to.deep.equal([]);
    });

    it('shows every metric of the gateway, and the process CPU, memory and event loop lag', async () => {
      const used = new Set(panelQueries(dashboard).flatMap((q) => metricNames(q.expr)));
      const registry = createMetrics({ processMetrics: false }).registry;
      const families = (await registry.getMetricsAsJSON()).map((metric) => metric.name);
      const missing = families.filter(
        (family) => ![...used].some((name) => name === family || name.startsWith(`${family}_`)),
      );
      expect(missing, 'gateway metrics without a panel').to.deep.equal([]);
      expect([...used]).to.include.members([
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_p99_seconds',
      ]);
    });

    it('keeps every selector to the chosen namespace, job and pod', () => {
      const unselected = panelQueries(dashboard).flatMap((q) =>
        metricNames(q.expr).flatMap((name) =>
          [...q.expr.matchAll(new RegExp(`(?<![\\w:])${name}(?![\\w:])`, 'g'))]
            .filter((m) => !q.expr.slice(m.index + name.length).startsWith(`{${SELECTOR}`))
            .map(() => `${q.where}: ${name}`),
        ),
      );
      expect(unselected).to.deep.equal([]);
    });

    it('takes rate() and increase() of counters only, never of a gauge', () => {
      const misused = queries.flatMap((q) =>
        [...q.expr.matchAll(/\b(?:rate|irate|increase)\(\s*([A-Za-z_:][\w:]*)/g)]
          .filter((m) => known.get(m[1]!) !== 'counter')
          .map((m) => `${q.where}: ${m[0]}`),
      );
      expect(misused).to.deep.equal([]);
    });

    it('computes quantiles from the buckets summed by le', () => {
      const quantiles = queries.filter((q) => q.expr.includes('histogram_quantile'));
      expect(quantiles).to.have.length.greaterThan(0);
      for (const q of quantiles) {
        expect(q.expr, q.where).to.match(
          /histogram_quantile\(0?\.\d+, sum by \((?:[\w, ]*\b)?le\b[\w, ]*\) \(rate\(\w+_bucket\{/,
        );
      }
    });

    it('names only outcomes the gateway counts (OUTCOMES of gateway/request-metrics.ts)', () => {
      const outcomes: readonly string[] = OUTCOMES;
      expect(outcomes).to.include.members(['proxied', 'throttled', 'would_throttle']);
      const named = queries.flatMap((q) =>
        [...q.expr.matchAll(/\boutcome=~?"([^"]*)"/g)].flatMap((m) => m[1]!.split('|')),
      );
      expect(named).to.have.length.greaterThan(0);
      expect(named.filter((o) => !outcomes.includes(o))).to.deep.equal([]);
    });

    it('has balanced parentheses, braces and brackets in every query', () => {
      const unbalanced = queries.filter((q) => {
        const text = q.expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
        const open: string[] = [];
        const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
        for (const c of text) {
          if ('({['.includes(c)) open.push(c);
          else if (c in pairs && open.pop() !== pairs[c]) return true;
        }
        return open.length > 0;
      });
      expect(unbalanced.map((q) => q.where)).to.deep.equal([]);
    });
  });

  describe('panels', () => {
    const byTitle = (title: string) => shown.filter((p) => p.title === title);
    const exprs = (panel: Json | undefined) => maps(panel?.targets).map((t) => String(t.expr));

    it('stacks the request rate by outcome', () => {
      const [panel] = byTitle('Request rate by outcome');
      expect(exprs(panel)).to.deep.equal([
        `sum by (outcome) (rate(gateway_requests_total{${SELECTOR}}[$__rate_interval]))`,
      ]);
      expect(valueAt(panel, 'fieldConfig.defaults.custom.stacking.mode')).to.equal('normal');
    });

    it('shows p50, p95 and p99 latency by outcome', () => {
      const [panel] = byTitle('Latency p50 / p95 / p99 by outcome');
      const quantiles = exprs(panel).map((e) => /^histogram_quantile\(([\d.]+),/.exec(e)?.[1]);
      expect(quantiles).to.deep.equal(['0.5', '0.95', '0.99']);
      for (const expr of exprs(panel)) {
        expect(expr).to.include(
          'sum by (outcome, le) (rate(gateway_request_duration_seconds_bucket',
        );
      }
    });

    it('shows the clients throttled now as a stat and as a time series', () => {
      const types = shown
        .filter((p) => exprs(p).some((e) => e.includes('gateway_throttled_clients')))
        .map((p) => p.type);
      expect(types).to.include.members(['stat', 'timeseries']);
    });

    it('follows the captcha funnel from the page to passed or failed', () => {
      const [panel] = byTitle('Captcha funnel');
      const outcomes = exprs(panel).map((e) => /outcome="(\w+)"/.exec(e)?.[1]);
      expect(outcomes).to.deep.equal(['captcha_page', 'captcha_passed', 'captcha_failed']);
    });

    it('breaks siteverify calls and config reloads down by result', () => {
      const all = shown.flatMap(exprs);
      expect(
        all.some((e) => /^sum by \(result\) \(rate\(gateway_siteverify_total\{/.test(e)),
      ).to.equal(true);
      expect(
        all.some((e) => /^sum by \(result\) \(increase\(gateway_config_reloads_total\{/.test(e)),
      ).to.equal(true);
    });

    it('shows the would_throttle rate of observe mode and the intercepted share', () => {
      const all = shown.flatMap(exprs);
      expect(all.some((e) => e.includes('outcome="would_throttle"'))).to.equal(true);
      expect(
        all.some((e) => /outcome="throttled".*\) \/ sum\(rate\(gateway_requests_total/.test(e)),
      ).to.equal(true);
    });
  });
});

describe('helm chart Grafana dashboard ConfigMap', () => {
  const source = readText(path.join(templatesDir, 'dashboard-configmap.yaml'));
  const lines = source.trimEnd().split('\n');
  const values = chartValues();

  it('renders only with metrics.grafanaDashboard.enabled, off by default', () => {
    expect(lines[0]).to.equal('{{- if .Values.metrics.grafanaDashboard.enabled }}');
    expect(lines.at(-1)).to.equal('{{- end }}');
    expect(valueAt(values, 'metrics.grafanaDashboard.enabled')).to.equal(false);
  });

  it('holds the dashboard file of the chart as captcha-gateway.json', () => {
    const file = /\.Files\.Get "([^"]+)"/.exec(source)?.[1];
    expect(file).to.equal(DASHBOARD_FILE);
    expect(source).to.match(
      /\n {2}captcha-gateway\.json: \|-\n {4}\{\{- \$dashboard \| nindent 4 \}\}/,
    );
  });

  it('fails rendering, naming .helmignore, when the chart lacks the file', () => {
    expect(source).to.match(
      /\{\{- if not \$dashboard \}\}\n\{\{- fail "[^"]*\.helmignore[^"]*" \}\}/,
    );
  });

  it('carries the sidecar label (grafana_dashboard: "1" by default) and the annotations', () => {
    expect(valueAt(values, 'metrics.grafanaDashboard.labels')).to.deep.equal({
      grafana_dashboard: '1',
    });
    expect(valueAt(values, 'metrics.grafanaDashboard.annotations')).to.deep.equal({});
    expect(source).to.include(
      '    {{- with .Values.metrics.grafanaDashboard.labels }}\n    {{- toYaml . | nindent 4 }}',
    );
    expect(source).to.include(
      '  {{- with .Values.metrics.grafanaDashboard.annotations }}\n  annotations:\n    {{- toYaml . | nindent 4 }}',
    );
  });

  it('is named "<full name>-dashboard", within 63 characters like every other name', () => {
    expect(source).to.include('name: {{ include "captcha-gateway.dashboardFullname" . }}');
    const helpers = readText(path.join(templatesDir, '_helpers.tpl'));
    expect(helpers).to.include(
      '{{- printf "%s-dashboard" (include "captcha-gateway.fullname" . | trunc 53 | trimSuffix "-") }}',
    );
  });

  it('goes to metrics.grafanaDashboard.namespace, or the release namespace', () => {
    expect(source).to.include(
      'namespace: {{ default .Release.Namespace .Values.metrics.grafanaDashboard.namespace }}',
    );
    expect(valueAt(values, 'metrics.grafanaDashboard.namespace')).to.equal('');
  });

  it('is packaged: .helmignore excludes neither dashboards/ nor the JSON', () => {
    const patterns = readText(path.join(chartDir, '.helmignore'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    // .helmignore globs match a path's base name or the path itself; a trailing / is a directory.
    const glob = (pattern: string) =>
      new RegExp(
        `^${pattern
          .replace(/\/$/, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')}$`,
      );
    const candidates = ['dashboards', 'captcha-gateway.json', DASHBOARD_FILE];
    const excluding = patterns.filter((p) => candidates.some((c) => glob(p).test(c)));
    expect(excluding).to.deep.equal([]);
    expect(patterns.length, 'the .helmignore patterns were read').to.be.greaterThan(3);
  });
});
