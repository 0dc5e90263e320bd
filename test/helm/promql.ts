// PromQL as the chart's tests read it: the metric names an expression reads, and the series the
// gateway really exports (its own registry, built by gateway/metrics.ts, and prom-client's default
// process metrics), by type.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createMetrics } from '../../gateway/metrics.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** The series names a metric exposes: a histogram is read as _bucket, _sum and _count. */
export function seriesOf(name: string, type: MetricType): [string, MetricType][] {
  switch (type) {
    case 'histogram':
      return [
        [`${name}_bucket`, 'counter'],
        [`${name}_sum`, 'counter'],
        [`${name}_count`, 'counter'],
      ];
    case 'summary':
      return [
        [name, 'gauge'],
        [`${name}_sum`, 'counter'],
        [`${name}_count`, 'counter'],
      ];
    default:
      return [[name, type]];
  }
}

/** The series of every metric in `registry`, by type. */
export async function seriesIn(registry: Registry): Promise<Map<string, MetricType>> {
  const found = new Map<string, MetricType>();
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const [series, type] of seriesOf(metric.name, String(metric.type) as MetricType)) {
      found.set(series, type);
    }
  }
  return found;
}

/** The gateway's own metrics, from the registry it builds (without Node's default metrics). */
export function gatewayMetrics(): Promise<Map<string, MetricType>> {
  return seriesIn(createMetrics({ processMetrics: false }).registry);
}

/** Node's default metrics, as prom-client's collectDefaultMetrics registers them. */
export async function defaultMetrics(): Promise<Map<string, MetricType>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const found = await seriesIn(registry);
  registry.clear();
  return found;
}

const NOT_METRICS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'atan2',
]);

/**
 * The metric names a PromQL expression reads: identifiers left once strings, label matchers,
 * range windows and label lists (`by (...)`) are removed, that are not functions (followed by
 * a parenthesis), keywords or numbers.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...stripped.matchAll(/(?<![\w:$.])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((name) => !NOT_METRICS.has(name));
  return [...new Set(names)];
}
