import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderChart, type K8sObject } from '../validate/src/manifests';
import { checkQueries, checkRules, testRules } from '../validate/src/promtool';
import { repoRoot } from '../validate/src/tools';
import { serviceSources } from './fixtures';

const dashboardsDir = join(repoRoot, 'deploy/grafana/dashboards');
const rule = renderChart('prod').find((o) => o.kind === 'PrometheusRule') as K8sObject & { spec: { groups: { name: string; rules: { alert?: string; expr: string }[] }[] } };
const groups = rule.spec.groups;

/** Every PromQL expression in the dashboards, with where it came from. */
function dashboardQueries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${where}[${i}]`));
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'expr' && typeof v === 'string') out.push({ where, expr: v });
        else walk(v, `${where}.${k}`);
      }
    }
  };
  for (const f of readdirSync(dashboardsDir).filter((x) => x.endsWith('.json'))) walk(JSON.parse(readFileSync(join(dashboardsDir, f), 'utf8')), f);
  return out;
}

describe('alert rules and dashboard queries (promtool)', () => {
  it('promtool accepts the PrometheusRule the chart renders', () => {
    const run = checkRules(groups);
    expect(run.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(run.ok, run.output).toBe(true);
  });

  it('promtool rejects a broken expression (the check can fail)', () => {
    const broken = structuredClone(groups);
    broken[0]!.rules[0]!.expr = 'increase(mlpipe_dead_letters_total[10m] > 0';
    const run = checkRules(broken);
    expect(run.ok).toBe(false);
    expect(run.output).toMatch(/parse error|unclosed/i);
  });

  it('the alerts fire on the series they are meant for, and not otherwise', () => {
    const run = testRules(groups, [
      {
        interval: '1m',
        input_series: [
          { series: 'mlpipe_dead_letters_total{service="registry", type="train.completed"}', values: '0 0 1 1 1 1 1' },
          { series: 'up{job="mlpipe", instance="gateway:8080"}', values: '1 0 0 0 0 0 0 0' },
          { series: 'up{job="mlpipe", instance="registry:8081"}', values: '1 1 1 1 1 1 1 1' },
          { series: 'mlpipe_trainer_jobs_total{service="trainer", outcome="failed"}', values: '0 0 1 1 1' },
          { series: 'mlpipe_trainer_jobs_total{service="trainer", outcome="retrying"}', values: '0 3 6 9 12' },
        ],
        alert_rule_test: [
          {
            eval_time: '4m',
            alertname: 'MlpipeDeadLetters',
            exp_alerts: [{ exp_labels: { severity: 'warning', service: 'registry', type: 'train.completed' }, exp_annotations: { summary: 'registry sent messages to the dead-letter stream' } }],
          },
          { eval_time: '4m', alertname: 'MlpipeServiceDown', exp_alerts: [] },
          {
            eval_time: '7m',
            alertname: 'MlpipeServiceDown',
            exp_alerts: [{ exp_labels: { severity: 'critical', job: 'mlpipe', instance: 'gateway:8080' }, exp_annotations: { summary: 'gateway:8080 has not been scraped for 5 minutes' } }],
          },
          { eval_time: '4m', alertname: 'MlpipeTrainingJobsFailing', exp_alerts: [{ exp_labels: { severity: 'warning', service: 'trainer' }, exp_annotations: { summary: 'training jobs failed for good in the last hour' } }] },
        ],
      },
    ]);
    expect(run.ok, run.output).toBe(true);
  });

  it('an alert test that expects the wrong thing fails (the unit tests can fail)', () => {
    const run = testRules(groups, [
      { interval: '1m', input_series: [{ series: 'mlpipe_dead_letters_total{service="registry", type="x"}', values: '0 0 0 0 0' }], alert_rule_test: [{ eval_time: '4m', alertname: 'MlpipeDeadLetters', exp_alerts: [{ exp_labels: { severity: 'warning', service: 'registry', type: 'x' } }] }] },
    ]);
    expect(run.ok).toBe(false);
  });

  it('every dashboard query parses', () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(0);
    const run = checkQueries(queries);
    expect(run.ok, run.output).toBe(true);
  });

  it('dashboards and rules query only metrics the services export', () => {
    const sources = serviceSources();
    const exported = new Set([...sources.matchAll(/name: '(mlpipe_[a-z_]+)'/g)].map((m) => m[1]));
    const queries = [...dashboardQueries().map((q) => q.expr), ...groups.flatMap((g) => g.rules.map((r) => r.expr))].join('\n');
    const used = new Set([...queries.matchAll(/\b(mlpipe_[a-z_]+?)(_bucket|_sum|_count)?\b/g)].map((m) => m[1]));
    expect(used.size).toBeGreaterThan(3);
    for (const m of used) expect(exported, `${m} is queried but no service exports it`).toContain(m);
  });
});
