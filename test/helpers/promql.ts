/**
 * PromQL read with Prometheus's own grammar (@prometheus-io/lezer-promql, the parser of the
 * Prometheus UI): whether an expression parses, and which metrics it selects (issue 18: the alert
 * rules and the dashboard name only exported metrics).
 */
import { parser } from '@prometheus-io/lezer-promql';

/** Grafana's range variables, given a value so an expression parses as Prometheus receives it. */
const GRAFANA_RANGES = /\$__(?:rate_interval|interval|range)\b/g;

export interface PromQLReading {
  /** The metric names of the expression's selectors, sorted. */
  metrics: string[];
  /** Where the grammar found a syntax error (empty: it parses). */
  errors: string[];
}

/**
 * Reads a PromQL expression, or a Grafana variable query (`label_values(selector, label)` reads
 * the selector; `label_values(label)` no metric). Template variables inside label values (`"$job"`)
 * are strings to the grammar; range variables are replaced by 5m.
 */
export function readPromQL(expr: string): PromQLReading {
  if (/^\s*label_values\(\s*\w+\s*\)\s*$/.test(expr)) return { metrics: [], errors: [] };
  const labelValues = /^\s*label_values\(\s*(.+),\s*\w+\s*\)\s*$/.exec(expr);
  const text = (labelValues ? labelValues[1]! : expr).replace(GRAFANA_RANGES, '5m');
  const metrics = new Set<string>();
  const errors: string[] = [];
  parser.parse(text).iterate({
    enter(ref) {
      if (ref.type.isError) errors.push(`at ${ref.from}: "${text.slice(Math.max(0, ref.from - 10), ref.from + 10)}"`);
      else if (ref.name === 'Identifier' && ref.node.parent?.name === 'VectorSelector') metrics.add(text.slice(ref.from, ref.to));
    },
  });
  return { metrics: [...metrics].sort(), errors };
}

/**
 * The metric names a Prometheus text exposition offers to PromQL, from its `# TYPE` lines: a
 * histogram's `_bucket`, `_sum` and `_count` series (not its bare name), a summary's quantiles,
 * `_sum` and `_count`, every other type's own name.
 */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}
