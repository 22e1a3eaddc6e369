/**
 * Enough PromQL to know which metrics an expression reads (issue 18): the names of the series it
 * selects, without its functions, keywords, label names and matchers, ranges, numbers, strings
 * and Grafana's template variables. Not a parser: it relies on the expression being valid PromQL.
 */

/** Words PromQL reserves: operators and modifiers that look like names. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);

/** The metric names an expression (or a Grafana `label_values(metric, label)` query) selects, sorted. */
export function metricNames(expr: string): string[] {
  const bare = expr
    // Grafana's variable queries: label_values(metric{...}, label) reads metric; label_values(label) none.
    .replace(/\blabel_values\(\s*([^,()]*),\s*\w+\s*\)/g, ' $1 ')
    .replace(/\blabel_values\(\s*\w+\s*\)/g, ' ')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  const names = new Set<string>();
  // A name not glued to a number (1e6, 5m) and not a function call (rate(...)).
  for (const m of bare.matchAll(/(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const name = m[1]!;
    if (!KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names].sort();
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
