// The PrometheusRule (templates/prometheusrule.yaml): one alert per value under
// metrics.prometheusRule.alerts, each expression reading only series the gateway really exports
// (its own registry), label values it really writes, and only this release's pods; Prometheus's
// own {{ $value }} texts kept away from Helm.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { interpret } from '../../gateway/captcha/siteverify.js';
import { createLogger } from '../../gateway/log.js';
import { reloadFromFile } from '../../gateway/reload.js';
import { OUTCOMES } from '../../gateway/request-metrics.js';
import { startGateway } from '../helpers/gateway.js';
import {
  ACTION,
  chartDir,
  chartValues,
  isMap,
  readText,
  skeleton,
  templatesDir,
  valueAt,
  valuesWith,
  yamlFiles,
} from './chart.js';
import { defaultMetrics, gatewayMetrics, metricNames, type MetricType } from './promql.js';

const FILE = 'prometheusrule.yaml';
const source = readText(path.join(templatesDir, FILE));
const SELECTOR_ACTION = '{{- $selector -}}';

/** value name under metrics.prometheusRule.alerts -> the alert's name. */
const ALERTS: Record<string, string> = {
  storeErrors: 'CaptchaGatewayStoreErrors',
  siteverifyErrors: 'CaptchaGatewaySiteverifyErrors',
  interceptedShare: 'CaptchaGatewayInterceptedShareHigh',
  upstreamErrors: 'CaptchaGatewayUpstreamErrors',
  configReloadFailed: 'CaptchaGatewayConfigReloadFailed',
};

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly annotations: Record<string, unknown>;
}

/** The rules as the template's skeleton lists them (every alert, each branch kept). */
function rules(): Rule[] {
  const [doc, ...more] = parseAllDocuments(skeleton(source), { uniqueKeys: false });
  if (!doc || more.length > 0) throw new Error(`${FILE}: expected one document`);
  if (doc.errors.length > 0) throw new Error(`${FILE}: ${doc.errors[0]!.message}`);
  const list = valueAt(doc.toJS(), 'spec.groups');
  const [group] = Array.isArray(list) ? list.filter(isMap) : [];
  const found = Array.isArray(group?.rules) ? group.rules.filter(isMap) : [];
  return found.map((r) => ({
    alert: String(r.alert),
    expr: String(r.expr),
    annotations: isMap(r.annotations) ? r.annotations : {},
  }));
}

/** An expression with its template actions replaced by a number, as PromQL sees a threshold. */
function promql(expr: string): string {
  return expr.replace(/TEMPLATED/g, '1');
}

/** Each `metric{...label="value"...}` of an expression: [metric, label, value]. */
function labelValues(expr: string): [string, string, string][] {
  return [...expr.matchAll(/([A-Za-z_:][\w:]*)\{([^}]*)\}/g)].flatMap((m) =>
    [...m[2]!.matchAll(/(\w+)=~?"([^"]*)"/g)].flatMap((l) =>
      l[2]!.split('|').map((value): [string, string, string] => [m[1]!, l[1]!, value]),
    ),
  );
}

/** The label values the gateway writes, per metric and label, from its own code. */
async function writtenLabelValues(): Promise<Map<string, Set<string>>> {
  const siteverifyResults = ['{', '{"success": false}', '{"success": true}'].map(
    (body) => interpret(body).kind,
  );
  // A refused reload, for real: the result label the gateway writes then.
  const running = await startGateway('upstream: { url: "http://127.0.0.1:9" }\n');
  const dir = mkdtempSync(path.join(tmpdir(), 'prometheus-rule-'));
  const reloads = new Set<string>();
  try {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'throttle: { limit: "lots" }\n');
    reloadFromFile(file, running.gateway, createLogger('silent'));
    const metric = await running.gateway.metrics.registry
      .getSingleMetric('gateway_config_reloads_total')
      ?.get();
    for (const value of metric?.values ?? []) reloads.add(String(value.labels.result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await running.stop();
  }
  return new Map([
    ['gateway_requests_total/outcome', new Set<string>(OUTCOMES)],
    ['gateway_siteverify_total/result', new Set(siteverifyResults)],
    ['gateway_config_reloads_total/result', reloads],
  ]);
}

describe('helm chart PrometheusRule', () => {
  const values = chartValues();
  const found = rules();
  let known: Map<string, MetricType>;

  before(async () => {
    known = new Map([...(await defaultMetrics()), ...(await gatewayMetrics())]);
  });

  it('renders only with metrics.prometheusRule.enabled, off by default', () => {
    const lines = source.trimEnd().split('\n');
    expect(lines[0]).to.equal('{{- if .Values.metrics.prometheusRule.enabled }}');
    expect(lines.at(-1)).to.equal('{{- end }}');
    expect(valueAt(values, 'metrics.prometheusRule.enabled')).to.equal(false);
  });

  it('fails rendering when every alert is off and there is no additional rule (an empty group)', () => {
    expect(source).to.include(
      '{{- if not (or $alertsOn .Values.metrics.prometheusRule.additionalRules) }}\n{{- fail "metrics.prometheusRule.enabled is true, but every alert',
    );
    expect(source).to.match(
      /\{\{- range \$name, \$alert := \.Values\.metrics\.prometheusRule\.alerts \}\}\n\{\{- if \$alert\.enabled \}\}\n\{\{- \$alertsOn = append \$alertsOn \$name \}\}/,
    );
  });

  it('has one alert per value under metrics.prometheusRule.alerts, each on by default', () => {
    const alerts = valueAt(values, 'metrics.prometheusRule.alerts');
    expect(Object.keys(isMap(alerts) ? alerts : {})).to.deep.equal(Object.keys(ALERTS));
    expect(found.map((r) => r.alert)).to.deep.equal(Object.values(ALERTS));
    for (const [name, alert] of Object.entries(ALERTS)) {
      expect(valueAt(values, `metrics.prometheusRule.alerts.${name}.enabled`), name).to.equal(true);
      // The rule sits in its value's block: on/off, threshold, for and severity come from it.
      const block = new RegExp(
        `\\{\\{- with \\.Values\\.metrics\\.prometheusRule\\.alerts\\.${name} \\}\\}\\n\\s+\\{\\{- if \\.enabled \\}\\}\\n\\s+- alert: ${alert}\\n\\s+expr: .* > \\{\\{ \\.threshold \\}\\}\\n\\s+for: \\{\\{ \\.for \\}\\}\\n\\s+labels:\\n\\s+severity: \\{\\{ \\.severity \\}\\}\\n`,
      );
      expect(source, alert).to.match(block);
    }
  });

  it('finds the metrics of the expressions (the scanner works)', () => {
    const names = found.flatMap((r) => metricNames(promql(r.expr)));
    expect(names).to.include.members([
      'gateway_store_errors_total',
      'gateway_siteverify_total',
      'gateway_requests_total',
      'gateway_config_reloads_total',
    ]);
  });

  it('reads only metrics the gateway exports', () => {
    const unknown = found.flatMap((r) =>
      metricNames(promql(r.expr))
        .filter((name) => !known.has(name))
        .map((name) => `${r.alert}: ${name}`),
    );
    expect(unknown).to.deep.equal([]);
  });

  it('takes rate() and increase() of counters only', () => {
    const misused = found.flatMap((r) =>
      [...r.expr.matchAll(/\b(?:rate|irate|increase)\(\s*([A-Za-z_:][\w:]*)/g)]
        .filter((m) => known.get(m[1]!) !== 'counter')
        .map((m) => `${r.alert}: ${m[0]}`),
    );
    expect(misused).to.deep.equal([]);
  });

  it('names only label values the gateway writes', async () => {
    const written = await writtenLabelValues();
    expect(written.get('gateway_config_reloads_total/result')).to.include('failure');
    const named = found.flatMap((r) => labelValues(r.expr).map((l) => ({ alert: r.alert, l })));
    expect(named.length).to.be.greaterThan(3);
    const unknown = named
      .filter(({ l: [metric, label, value] }) => !written.get(`${metric}/${label}`)?.has(value))
      .map(({ alert, l }) => `${alert}: ${l.join(' ')}`);
    expect(unknown).to.deep.equal([]);
  });

  it("keeps every selector to this release's pods (namespace, and the admin Service as job)", () => {
    expect(source).to.include(
      '{{- $selector := printf "namespace=%q, job=%q" .Release.Namespace (include "captcha-gateway.adminFullname" .) }}',
    );
    const exprLines = source.split('\n').filter((line) => /^\s+expr: /.test(line));
    expect(exprLines).to.have.length(Object.keys(ALERTS).length);
    for (const line of exprLines) {
      const names = metricNames(
        promql(line.replace(ACTION, 'TEMPLATED').replace(/^\s+expr: /, '')),
      );
      for (const name of names) {
        const uses = line.split(name).slice(1);
        expect(uses.length, line).to.be.greaterThan(0);
        for (const after of uses)
          expect(after.startsWith(`{ ${SELECTOR_ACTION}`), line).to.equal(true);
      }
    }
  });

  it('reads only metrics the gateway exports in the additionalRules of the ci/ values', () => {
    const extra = yamlFiles(path.join(chartDir, 'ci')).flatMap((file) => {
      const rules = valueAt(valuesWith(file), 'metrics.prometheusRule.additionalRules');
      return (Array.isArray(rules) ? rules.filter(isMap) : []).map((r) => ({
        where: `ci/${path.basename(file)}: ${String(r.alert)}`,
        expr: String(r.expr),
      }));
    });
    expect(extra).to.have.length.greaterThan(0);
    const unknown = extra.flatMap((r) =>
      metricNames(r.expr)
        .filter((name) => !known.has(name))
        .map((name) => `${r.where}: ${name}`),
    );
    expect(unknown).to.deep.equal([]);
  });

  it('has balanced parentheses, braces and brackets in every expression', () => {
    const unbalanced = found.filter((r) => {
      const open: string[] = [];
      const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
      for (const c of r.expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
        if ('({['.includes(c)) open.push(c);
        else if (c in pairs && open.pop() !== pairs[c]) return true;
      }
      return open.length > 0;
    });
    expect(unbalanced.map((r) => r.alert)).to.deep.equal([]);
  });

  it("leaves Prometheus's {{ $value }} and {{ $labels }} to Prometheus (raw strings for Helm)", () => {
    const outside = source.replace(ACTION, '');
    expect(outside).to.not.match(/\$value|\$labels/);
    const prometheusTexts = [...source.matchAll(ACTION)]
      .map((m) => m[0])
      .filter((action) => /\$value|\$labels/.test(action));
    expect(prometheusTexts.length).to.be.greaterThan(Object.keys(ALERTS).length - 1);
    for (const action of prometheusTexts) expect(action).to.match(/^\{\{ `\{\{ [^`]*\}\}` \}\}$/);
  });

  it('gives every alert a summary and a description', () => {
    for (const { alert, annotations } of found) {
      expect(String(annotations.summary), alert).to.have.length.greaterThan(20);
      expect(String(annotations.description), alert).to.have.length.greaterThan(60);
    }
  });

  it('adds alertLabels to every alert and additionalRules to the group', () => {
    const alertLabels = source.match(
      /\n {12}\{\{- with \$alertLabels \}\}\n {12}\{\{- toYaml \. \| nindent 12 \}\}\n {12}\{\{- end \}\}\n/g,
    );
    expect(alertLabels).to.have.length(Object.keys(ALERTS).length);
    expect(source).to.include(
      '        {{- with .Values.metrics.prometheusRule.additionalRules }}\n        {{- toYaml . | nindent 8 }}',
    );
  });
});
