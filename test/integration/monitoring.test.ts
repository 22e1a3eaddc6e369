/**
 * Issue 18, part C: the monitoring that ships. The alert rules (deploy/prometheus/conference-alerts.yml)
 * and the Grafana dashboard (deploy/grafana/conference-dashboard.json) name only metrics a real server
 * exports on /metrics (one process, and a cluster node on a redis-server started here), the rules
 * have the structure Prometheus loads, every expression parses with Prometheus's own PromQL grammar,
 * every alert is explained in the README's "Operate it", and conference_cluster_nodes counts the
 * nodes a real cluster has.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { redisServerSkipReason, startRedisServer, type RedisServerHandle } from '../../tools/cluster/redisServer.js';
import { memoryLimitBytes } from '../../src/observability/metrics.js';
import { exposedNames, readPromQL } from '../helpers/promql.js';

const metricNames = (expr: string) => readPromQL(expr).metrics;
import { startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES_PATH = join(ROOT, 'deploy', 'prometheus', 'conference-alerts.yml');
const DASHBOARD_PATH = join(ROOT, 'deploy', 'grafana', 'conference-dashboard.json');
/** Series Prometheus makes itself for every target (not on /metrics). */
const SYNTHETIC = new Set(['up']);
/** Metrics only a cluster node (REDIS_URL) exports. */
const CLUSTER_ONLY = /^conference_cluster_/;
/** prom-client's process metrics (collectDefaultMetrics, prefixed): the dashboard picks a few. */
const PROCESS_DEFAULTS = /^conference_(process|nodejs)_/;

interface Rule {
  alert?: unknown;
  record?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
interface Dashboard {
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: { uid?: string } }> };
  panels: Panel[];
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Array<{ expr: string; refId: string; datasource?: { uid?: string } }>;
  panels?: Panel[];
}

const rules = parseYaml(readFileSync(RULES_PATH, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
const allRules = rules.groups.flatMap((g) => g.rules);
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Every PromQL expression shipped, with where it is. */
function expressions(): Array<{ where: string; expr: string }> {
  const out = allRules.map((r) => ({ where: `rule ${String(r.alert)}`, expr: String(r.expr) }));
  for (const p of panels) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const query = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
    out.push({ where: `variable $${v.name}`, expr: query });
  }
  return out;
}

async function scrape(t: TestServer): Promise<string> {
  const res = await fetch(`${t.baseUrl}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

describe("readPromQL: Prometheus's grammar says what an expression reads, and whether it parses", () => {
  test('functions, by-lists, matchers, ranges, numbers, keywords and Grafana variables are not metrics', () => {
    assert.deepEqual(
      metricNames(
        'histogram_quantile(0.99, sum by (job, instance, le) (rate(conference_tick_duration_seconds_bucket{job="conference", code!~"1000|up"}[5m]))) > 0.020',
      ),
      ['conference_tick_duration_seconds_bucket'],
    );
    assert.deepEqual(metricNames('rate(a_total{x="y"}[$__rate_interval]) / on (instance) group_left (reason) b_total offset 5m > bool 1e6 and c unless up'), [
      'a_total',
      'b_total',
      'c',
      'up',
    ]);
    assert.deepEqual(metricNames('max(conference_cluster_nodes{job=~"$job"}) < count(up{job="conference"})'), ['conference_cluster_nodes', 'up']);
    assert.deepEqual(metricNames('label_values(conference_callers{job=~"$job"}, instance)'), ['conference_callers']);
    assert.deepEqual(metricNames('label_values(job)'), []);
  });

  test('a syntax error is found: an unclosed call, a missing operand, a bad range', () => {
    assert.deepEqual(readPromQL('sum(rate(x[5m]))').errors, []);
    for (const bad of ['sum(rate(x[5m])', 'a / > 1', 'rate(x[5 m])', 'a{job="x"']) assert.ok(readPromQL(bad).errors.length > 0, bad);
  });

  test('exposedNames: a histogram offers _bucket/_sum/_count, a counter its own name', () => {
    const names = exposedNames('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE c_total counter\nc_total 3\n# TYPE g gauge\n');
    assert.deepEqual([...names].sort(), ['c_total', 'g', 'h_bucket', 'h_count', 'h_sum']);
  });
});

describe('deploy/prometheus/conference-alerts.yml: the structure Prometheus loads', () => {
  test('groups of alerting rules, each with expr, for, a severity, a summary and a description', () => {
    assert.ok(Array.isArray(rules.groups) && rules.groups.length > 0);
    const groupNames = rules.groups.map((g) => g.name);
    assert.equal(new Set(groupNames).size, groupNames.length, 'group names are unique');
    const alerts = new Set<string>();
    for (const group of rules.groups) {
      assert.equal(typeof group.name, 'string');
      assert.ok(Array.isArray(group.rules) && group.rules.length > 0, `group ${group.name} has rules`);
      assert.deepEqual(Object.keys(group).sort(), ['name', 'rules'], `group ${group.name}: only name and rules`);
      for (const rule of group.rules) {
        const name = String(rule.alert);
        assert.match(name, /^Conference[A-Z][A-Za-z]+$/, 'alert names are CamelCase under Conference');
        assert.ok(!alerts.has(name), `${name} is defined once`);
        alerts.add(name);
        assert.deepEqual(Object.keys(rule).sort(), ['alert', 'annotations', 'expr', 'for', 'labels'], `${name}: the keys of an alerting rule`);
        assert.ok(typeof rule.expr === 'string' && rule.expr.trim().length > 0, `${name}: expr`);
        assert.match(String(rule.for), /^\d+[smh]$/, `${name}: for is a duration`);
        assert.ok(['critical', 'warning'].includes(String(rule.labels?.['severity'])), `${name}: severity critical or warning`);
        for (const key of ['summary', 'description']) {
          const text = rule.annotations?.[key];
          assert.ok(typeof text === 'string' && text.length > 20, `${name}: ${key}`);
        }
      }
    }
    assert.ok(alerts.size >= 10);
  });

  test("the brief's alerts are there: overload, tick p99 over 20 ms, stream errors, status callbacks, a missing node, loop delay, drops", () => {
    const byExpr = (re: RegExp) => allRules.filter((r) => re.test(String(r.expr))).map((r) => String(r.alert));
    assert.ok(byExpr(/conference_overloaded\b/).length > 0);
    assert.ok(byExpr(/conference_tick_duration_seconds_bucket[\s\S]*> 0\.020\b/).length > 0);
    assert.ok(byExpr(/stream-error/).length > 0);
    assert.ok(byExpr(/conference_websocket_closes_total/).length > 0);
    assert.ok(byExpr(/conference_status_callbacks_total[\s\S]*failed/).length > 0);
    assert.ok(byExpr(/conference_cluster_nodes\b/).length > 0);
    assert.ok(byExpr(/^up\{/).length > 0);
    assert.ok(byExpr(/eventloop_lag/).length > 0);
    assert.ok(byExpr(/conference_frames_dropped_total/).length > 0);
  });

  test('every alert is explained in the README\'s "Operate it"', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Operate it\n');
    assert.ok(start > 0, 'README has an "Operate it" section');
    const end = readme.indexOf('\n## ', start + 1);
    const section = readme.slice(start, end);
    for (const rule of allRules) assert.ok(section.includes(`\`${String(rule.alert)}\``), `${String(rule.alert)} in "Operate it"`);
    assert.ok(section.includes('deploy/prometheus/conference-alerts.yml') && section.includes('deploy/grafana/conference-dashboard.json'));
  });
});

describe('every shipped expression parses', () => {
  test("every rule's expr and every panel's and variable's query parse with Prometheus's PromQL grammar", () => {
    const shipped = expressions();
    assert.ok(shipped.length > 60);
    const failing = shipped.flatMap(({ where, expr }) => readPromQL(expr).errors.map((e) => `${where}: ${e}`));
    assert.deepEqual(failing, []);
  });
});

describe('deploy/grafana/conference-dashboard.json: a dashboard Grafana imports', () => {
  test('a Prometheus datasource variable every query uses, unique panel ids, every panel placed', () => {
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    assert.equal(ds?.query, 'prometheus');
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of panels) {
      assert.ok(p.gridPos && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `panel "${p.title}" is placed in the 24 columns`);
      if (p.type === 'row') continue;
      assert.equal(p.datasource?.uid, `\${${ds!.name}}`, `panel "${p.title}" reads the datasource variable`);
      assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
      for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, `\${${ds!.name}}`);
    }
    for (const v of dashboard.templating.list) if (v.type === 'query') assert.equal(v.datasource?.uid, `\${${ds!.name}}`);
  });
});

describe('the metrics named are ones real servers export', { skip: redisServerSkipReason() ?? false }, () => {
  let single: TestServer;
  let redis: RedisServerHandle;
  const nodes: TestServer[] = [];
  const clusterEnv = (id: string) => ({ REDIS_URL: redis.url, NODE_ID: id, JOIN_TICKET_SECRET: 'monitoring-test-secret-0123456789abcdef' });

  before(async () => {
    single = await startTestServer();
    redis = await startRedisServer();
    nodes.push(await startTestServer(clusterEnv('n1')), await startTestServer(clusterEnv('n2')));
  });
  after(async () => {
    for (const t of [single, ...nodes]) await t?.close();
    await redis?.stop();
  });

  test('every metric in the rules and the dashboard is on /metrics (cluster ones on a cluster node); the dashboard shows every conference metric', async () => {
    // The process metrics start with the first scrape: the second one has them all.
    await scrape(single);
    const one = exposedNames(await scrape(single));
    await scrape(nodes[0]!);
    const node = exposedNames(await scrape(nodes[0]!));
    assert.ok(one.has('conference_callers') && one.has('conference_tick_duration_seconds_bucket') && one.has('conference_nodejs_eventloop_lag_p99_seconds'));
    assert.ok(!one.has('conference_cluster_nodes') && node.has('conference_cluster_nodes'));

    const used = new Set<string>();
    const unknown: string[] = [];
    for (const { where, expr } of expressions()) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${where} reads a metric`);
      for (const name of names) {
        used.add(name);
        if (SYNTHETIC.has(name)) continue;
        if (!node.has(name)) unknown.push(`${where}: ${name}`);
        else if (!CLUSTER_ONLY.test(name) && !one.has(name)) unknown.push(`${where}: ${name} (not on one process)`);
      }
    }
    assert.deepEqual(unknown, [], 'metrics not exported');

    const dashboardNames = new Set(
      expressions()
        .filter((e) => !e.where.startsWith('rule '))
        .flatMap((e) => metricNames(e.expr)),
    );
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    const shown = new Set([...dashboardNames].map(base));
    const missing = [...node].filter((name) => name.startsWith('conference_') && !PROCESS_DEFAULTS.test(name) && !shown.has(base(name)));
    assert.deepEqual([...new Set(missing)], [], 'conference metrics the dashboard does not show');
  });

  test('conference_memory_limit_bytes is the cgroup limit when one is set, else the machine memory; ConferenceMemoryHigh reads it against the RSS', async () => {
    const text = await scrape(single);
    const limit = Number(/^conference_memory_limit_bytes (\S+)$/m.exec(text)?.[1]);
    const rss = Number(/^conference_process_resident_memory_bytes (\S+)$/m.exec(text)?.[1]);
    assert.equal(limit, memoryLimitBytes());
    assert.ok(limit > 0 && limit <= totalmem() && rss > 0 && rss < limit, `rss ${rss} within the limit ${limit}`);
    // Node says "no limit" as 0, undefined or 2^64; a limit beyond the machine is none either.
    assert.equal(memoryLimitBytes(512 * 2 ** 20, 8 * 2 ** 30), 512 * 2 ** 20);
    for (const none of [undefined, 0, 2 ** 64, 16 * 2 ** 30]) assert.equal(memoryLimitBytes(none, 8 * 2 ** 30), 8 * 2 ** 30);
    const rule = allRules.find((r) => r.alert === 'ConferenceMemoryHigh');
    assert.deepEqual(metricNames(String(rule?.expr)).sort(), ['conference_memory_limit_bytes', 'conference_process_resident_memory_bytes']);
    assert.equal(rule?.for, '10m');
    console.log(
      `# measured: resident ${(rss / 2 ** 20).toFixed(0)} MiB of a ${(limit / 2 ** 30).toFixed(1)} GiB limit (${((100 * rss) / limit).toFixed(2)} %)`,
    );
  });

  test('conference_cluster_nodes counts live nodes, conference_cluster_nodes_draining the draining ones; 0 when Redis cannot be read', async () => {
    const gauge = async (t: TestServer, name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await scrape(t));
      assert.ok(m, `${name} on /metrics`);
      return Number(m[1]);
    };
    const until = async (what: () => Promise<boolean>, label: string) => {
      const deadline = Date.now() + 5000;
      while (!(await what())) {
        assert.ok(Date.now() < deadline, label);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const [n1, n2] = nodes as [TestServer, TestServer];
    await until(async () => (await gauge(n1, 'conference_cluster_nodes')) === 2, 'both heartbeats seen');
    assert.equal(await gauge(n2, 'conference_cluster_nodes'), 2);
    assert.equal(await gauge(n1, 'conference_cluster_nodes_draining'), 0);

    n2.server.stopAdmitting(); // draining, as at the start of a SIGTERM
    await until(async () => (await gauge(n1, 'conference_cluster_nodes_draining')) === 1, 'the draining node seen');
    assert.equal(await gauge(n1, 'conference_cluster_nodes'), 2, 'a draining node is still live');

    await n2.close(); // removes its heartbeat
    await until(async () => (await gauge(n1, 'conference_cluster_nodes')) === 1, 'the stopped node gone');
    assert.equal(await gauge(n1, 'conference_cluster_nodes_draining'), 0);

    await redis.stop();
    assert.equal(await gauge(n1, 'conference_cluster_nodes'), 0, 'no store, no node seen (ConferenceClusterStoreUnreachable)');
  });
});
