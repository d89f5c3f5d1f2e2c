import { describe, expect, it } from 'vitest';
import { loadCrdValidators, strictify } from '../validate/src/crd';
import type { K8sObject } from '../validate/src/manifests';
import { renderTrainJob } from '../kubeflow/src/trainjob';
import { validate, validators } from './fixtures';

const deployment = (): K8sObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd' },
  spec: {
    selector: { matchLabels: { a: 'b' } },
    template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }] }] } },
  },
});

describe('CRD validator (openAPIV3Schema, unknown fields rejected)', () => {
  it('fails clearly when the shared CRD folder is missing', () => {
    expect(() => loadCrdValidators('/nonexistent/shared/crds')).toThrow(/CRD copies not found at \/nonexistent\/shared\/crds/);
  });

  it('accepts a good TrainJob and rejects a misspelt field and a wrong type', async () => {
    const good = renderTrainJob({ jobId: 'job-20261122-abcd1234', replicas: 1 }) as unknown as K8sObject;
    expect(await validate([good])).toEqual([]);
    const typo = structuredClone(good) as unknown as { spec: { trainer: Record<string, unknown> } };
    typo.spec.trainer.numNode = 2;
    expect((await validate([typo as unknown as K8sObject])).join()).toMatch(/TrainJob\/.*must NOT have additional properties \(numNode\)/);
    const wrongType = structuredClone(good) as unknown as { spec: { trainer: Record<string, unknown> } };
    wrongType.spec.trainer.numNodes = 'two';
    expect((await validate([wrongType as unknown as K8sObject])).join()).toMatch(/numNodes must be integer/);
  });

  it('maps nullable, int-or-string and preserve-unknown-fields the way the API server reads them', () => {
    const s = strictify({
      type: 'object',
      properties: {
        port: { 'x-kubernetes-int-or-string': true },
        note: { type: 'string', nullable: true },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { a: { type: 'string' } } },
      },
    });
    expect(s).toEqual({
      type: 'object',
      additionalProperties: false,
      properties: {
        port: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
        note: { type: ['string', 'null'] },
        free: { type: 'object', properties: { a: { type: 'string' } } },
      },
    });
  });

  it('loads every served version of the trainer, Argo CD and KServe CRDs', () => {
    const keys = validators().crds.keys();
    expect(keys).toEqual(expect.arrayContaining(['trainer.kubeflow.org/v1alpha1 TrainJob', 'trainer.kubeflow.org/v1alpha1 ClusterTrainingRuntime', 'argoproj.io/v1alpha1 Application']));
  });

  it('says when it has no schema for a kind instead of passing it', async () => {
    expect(await validate([{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }])).toEqual(['Widget/w: no schema known for example.com/v1 Widget']);
  });
});

describe('core kinds (kubernetes-models types + the field table)', () => {
  it('accepts a minimal Deployment', async () => {
    expect(await validate([deployment()])).toEqual([]);
  });

  it('rejects unknown fields at any depth, wrong types and missing required fields', async () => {
    const typo = deployment() as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    typo.spec.template.spec.containers[0]!.readinessProb = { httpGet: { path: '/readyz', port: 80 } };
    expect(await validate([typo as unknown as K8sObject])).toEqual(['Deployment/d: unknown field spec.template.spec.containers[0].readinessProb']);
    const wrong = deployment() as unknown as { spec: Record<string, unknown> };
    wrong.spec.replicas = 'three';
    expect((await validate([wrong as unknown as K8sObject])).join()).toMatch(/spec\/replicas must be integer/);
    const missing = deployment() as unknown as { spec: Record<string, unknown> };
    delete missing.spec.selector;
    expect((await validate([missing as unknown as K8sObject])).join()).toMatch(/selector/);
  });

  it('leaves free-form maps alone (labels, resource quantities, ConfigMap data)', async () => {
    const cm: K8sObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { anything: 'goes' } }, data: { 'any-key.json': '{}' } };
    expect(await validate([cm])).toEqual([]);
  });
});

describe('Prometheus Operator objects (checked by hand: no CRD copy offline)', () => {
  const monitor = (): K8sObject => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: 'm' },
    spec: { selector: { matchLabels: { a: 'b' } }, endpoints: [{ port: 'http', path: '/metrics', interval: '15s' }] },
  });

  it('accepts a ServiceMonitor and rejects a misspelt field, a bad duration and an empty endpoint list', async () => {
    expect(await validate([monitor()])).toEqual([]);
    const typo = monitor() as unknown as { spec: { endpoints: Record<string, unknown>[] } };
    typo.spec.endpoints[0]!.intervall = '15s';
    expect((await validate([typo as unknown as K8sObject])).join()).toMatch(/intervall/);
    const duration = monitor() as unknown as { spec: { endpoints: Record<string, unknown>[] } };
    duration.spec.endpoints[0]!.interval = '15 seconds';
    expect((await validate([duration as unknown as K8sObject])).join()).toMatch(/duration/);
    const empty = monitor() as unknown as { spec: { endpoints: unknown[] } };
    empty.spec.endpoints = [];
    expect(await validate([empty as unknown as K8sObject])).not.toEqual([]);
  });

  it('rejects a rule that is neither an alert nor a record', async () => {
    const rule: K8sObject = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'r' }, spec: { groups: [{ name: 'g', rules: [{ expr: 'up == 0' }] }] } };
    expect((await validate([rule])).join()).toMatch(/either an alert or a record/);
  });
});
