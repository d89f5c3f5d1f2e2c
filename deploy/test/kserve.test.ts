import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderChart, type K8sObject } from '../validate/src/manifests';
import { chartDir, sharedCrds, tool } from '../validate/src/tools';
import { validate } from './fixtures';

interface InferenceService extends K8sObject {
  spec: {
    predictor: {
      storageUris: { uri: string; mountPath: string }[];
      model: { modelFormat: { name: string; version: string }; runtime: string; protocolVersion: string };
    };
  };
}
interface ServingRuntime {
  spec: { supportedModelFormats: { name: string; version: string }[]; protocolVersions: string[]; containers: { args: string[] }[] };
}

const ENABLED = ['--set', 'kserve.enabled=true', '--set', 'kserve.version=3', '--set', 'kserve.artefactPrefix=models/mnist/job-7f3a/'];
const inferenceServices = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'InferenceService') as InferenceService[];
const helmFails = (args: string[]) => spawnSync(tool('helm'), ['template', 'x', chartDir, ...args], { encoding: 'utf8' });
const clone = <T>(o: T): T => structuredClone(o);

describe('the KServe InferenceService for a version\'s ONNX export', () => {
  const [isvc] = inferenceServices(renderChart('prod', ENABLED));

  it('is off by default', () => {
    expect(inferenceServices(renderChart('prod'))).toEqual([]);
    expect(inferenceServices(renderChart('dev'))).toEqual([]);
  });

  it('validates against the KServe CRD, and the same check refuses broken fields', async () => {
    expect(isvc).toBeDefined();
    expect(await validate([isvc!])).toEqual([]);
    // The check can fail: each of these breaks the CRD's schema in one place.
    const misspelt = clone(isvc!);
    (misspelt.spec.predictor.model as Record<string, unknown>).storageURI = 's3://mlpipe/x/';
    const noFormatName = clone(isvc!);
    delete (noFormatName.spec.predictor.model.modelFormat as Partial<{ name: string }>).name;
    const relativeMount = clone(isvc!);
    relativeMount.spec.predictor.storageUris[0]!.mountPath = 'mnt/models/mnist/3';
    const numericProtocol = clone(isvc!);
    (numericProtocol.spec.predictor.model as Record<string, unknown>).protocolVersion = 2;
    expect(await validate([misspelt])).toEqual([expect.stringMatching(/InferenceService\/mnist-onnx: \/spec\/predictor\/model must NOT have additional properties \(storageURI\)/)]);
    expect((await validate([noFormatName])).join('\n')).toMatch(/modelFormat must have required property 'name'/);
    expect((await validate([relativeMount])).join('\n')).toMatch(/mountPath must match pattern/);
    expect((await validate([numericProtocol])).join('\n')).toMatch(/protocolVersion must be string/);
  });

  it('downloads the version\'s artefact folder into the Triton repository layout <model>/<version>/ under the runtime\'s model store', () => {
    const { storageUris, model } = isvc!.spec.predictor;
    expect(storageUris).toEqual([{ uri: 's3://mlpipe/models/mnist/job-7f3a/', mountPath: '/mnt/models/mnist/3' }]);
    expect(model).toMatchObject({ modelFormat: { name: 'onnx', version: '1' }, runtime: 'kserve-tritonserver', protocolVersion: 'v2' });
    expect(isvc!.metadata).toMatchObject({ name: 'mnist-onnx', annotations: { 'mlpipe.io/model': 'mnist', 'mlpipe.io/model-version': '3' } });
    // KServe's own Triton runtime: serves this format over v2 and reads the repository where we put the model.
    const runtime = parse(readFileSync(join(sharedCrds, 'kserve/runtimes/kserve-tritonserver.yaml'), 'utf8')) as ServingRuntime;
    expect(runtime.spec.supportedModelFormats).toContainEqual(expect.objectContaining(model.modelFormat));
    expect(runtime.spec.protocolVersions).toContain(model.protocolVersion);
    const store = runtime.spec.containers[0]!.args.find((a) => a.startsWith('--model-store='))!.split('=')[1];
    expect(storageUris[0]!.mountPath).toBe(`${store}/mnist/3`);
  });

  it('takes the bucket, name, runtime and service account from values', async () => {
    const [custom] = inferenceServices(
      renderChart('prod', [...ENABLED, '--set', 'objectStore.bucket=models-prod', '--set', 'kserve.name=digits', '--set', 'kserve.serviceAccountName=kserve-s3', '--set', 'kserve.runtime=my-triton']),
    );
    expect(custom!.metadata.name).toBe('digits');
    expect(custom!.spec.predictor).toMatchObject({ serviceAccountName: 'kserve-s3', storageUris: [{ uri: 's3://models-prod/models/mnist/job-7f3a/' }], model: { runtime: 'my-triton' } });
    expect(await validate([custom!])).toEqual([]);
  });

  it('refuses to render without the version and its artefact folder, or with a folder that is not one', () => {
    const noVersion = helmFails(['--set', 'kserve.enabled=true', '--set', 'kserve.artefactPrefix=models/mnist/job-7f3a/']);
    expect(noVersion.status).not.toBe(0);
    expect(noVersion.stderr).toMatch(/kserve\.version/);
    const noPrefix = helmFails(['--set', 'kserve.enabled=true', '--set', 'kserve.version=3']);
    expect(noPrefix.status).not.toBe(0);
    expect(noPrefix.stderr).toMatch(/kserve\.artefactPrefix/);
    const notAFolder = helmFails([...ENABLED.slice(0, 4), '--set', 'kserve.artefactPrefix=models/mnist/job-7f3a/model.onnx']);
    expect(notAFolder.status).not.toBe(0);
    expect(notAFolder.stderr).toMatch(/artefactPrefix/);
    const zero = helmFails([...ENABLED, '--set', 'kserve.version=0']);
    expect(zero.status).not.toBe(0);
  });
});
