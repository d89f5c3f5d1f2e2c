import { z } from 'zod';
import type { K8sObject } from './manifests';

/**
 * Prometheus Operator objects (monitoring.coreos.com/v1). No CRD copy of them is available offline,
 * so we check the fields our chart emits against their documented shapes, strictly (a misspelt key
 * is an error); less common fields of the API are allowed but not typed. PromQL itself is checked by
 * promtool (see promtool.ts), which is the real parser.
 */
const Duration = z.string().regex(/^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$/, 'a Prometheus duration such as 30s or 5m');
const Labels = z.record(z.string(), z.string());
const LabelSelector = z
  .object({
    matchLabels: Labels.optional(),
    matchExpressions: z.array(z.object({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() }).strict()).optional(),
  })
  .strict();
const untyped = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, z.unknown().optional()]));

const Endpoint = z
  .object({
    port: z.string().min(1).optional(),
    targetPort: z.union([z.string(), z.number().int()]).optional(),
    path: z.string().startsWith('/').optional(),
    scheme: z.enum(['http', 'https']).optional(),
    interval: Duration.optional(),
    scrapeTimeout: Duration.optional(),
    honorLabels: z.boolean().optional(),
    ...untyped(['params', 'tlsConfig', 'bearerTokenSecret', 'authorization', 'basicAuth', 'oauth2', 'honorTimestamps', 'metricRelabelings', 'relabelings', 'proxyUrl', 'followRedirects', 'enableHttp2', 'filterRunning']),
  })
  .strict()
  .refine((e) => e.port !== undefined || e.targetPort !== undefined, 'an endpoint names a port or targetPort');

const ServiceMonitor = z
  .object({
    apiVersion: z.literal('monitoring.coreos.com/v1'),
    kind: z.literal('ServiceMonitor'),
    metadata: z.object({ name: z.string() }).loose(),
    spec: z
      .object({
        selector: LabelSelector,
        endpoints: z.array(Endpoint).min(1),
        jobLabel: z.string().optional(),
        namespaceSelector: z.object({ any: z.boolean().optional(), matchNames: z.array(z.string()).optional() }).strict().optional(),
        targetLabels: z.array(z.string()).optional(),
        podTargetLabels: z.array(z.string()).optional(),
        ...untyped(['sampleLimit', 'targetLimit', 'labelLimit', 'labelNameLengthLimit', 'labelValueLengthLimit', 'attachMetadata', 'scrapeClass', 'scrapeProtocols', 'keepDroppedTargets']),
      })
      .strict(),
  })
  .strict();

const Rule = z
  .object({
    alert: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/).optional(),
    record: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/).optional(),
    expr: z.union([z.string().min(1), z.number()]),
    for: Duration.optional(),
    keep_firing_for: Duration.optional(),
    labels: Labels.optional(),
    annotations: Labels.optional(),
  })
  .strict()
  .refine((r) => (r.alert === undefined) !== (r.record === undefined), 'a rule is either an alert or a record')
  .refine((r) => r.record === undefined || (r.for === undefined && r.annotations === undefined), 'recording rules take no for or annotations');

export const PrometheusRuleGroup = z.object({ name: z.string().min(1), interval: Duration.optional(), limit: z.number().int().optional(), rules: z.array(Rule) }).strict();

const PrometheusRule = z
  .object({
    apiVersion: z.literal('monitoring.coreos.com/v1'),
    kind: z.literal('PrometheusRule'),
    metadata: z.object({ name: z.string() }).loose(),
    spec: z.object({ groups: z.array(PrometheusRuleGroup).min(1) }).strict(),
  })
  .strict();

const issues = (r: z.ZodSafeParseResult<unknown>) => (r.success ? [] : r.error.issues.map((i) => `/${i.path.join('/')} ${i.message}`));

export const PROMETHEUS_OPERATOR_CHECKS: Record<string, (o: K8sObject) => string[]> = {
  'monitoring.coreos.com/v1 ServiceMonitor': (o) => issues(ServiceMonitor.safeParse(o)),
  'monitoring.coreos.com/v1 PrometheusRule': (o) => issues(PrometheusRule.safeParse(o)),
};
