import { z } from 'zod';

/**
 * A Kubeflow Pipelines pipeline in the v2 intermediate representation (PipelineSpec, as the KFP
 * SDK compiles it), built from container components that call our service CLIs:
 * seed data → train (submit and wait) → evaluate (list versions) → report the gate's decisions.
 * The registry registers and gates the version itself when training completes.
 */
type ParamType = 'STRING' | 'NUMBER_INTEGER';
interface Step {
  name: string;
  service: string;
  command: string[];
  params: Record<string, { type: ParamType; default: string | number }>;
  after?: string[];
}

const cli = (service: string) => ['node', '--import', 'tsx', `services/${service}/src/cli.ts`];
const param = (name: string) => `{{$.inputs.parameters['${name}']}}`;

const STEPS: Step[] = [
  {
    name: 'seed-data',
    service: 'dataset-watcher',
    command: [...cli('dataset-watcher'), 'seed', param('dataset')],
    params: { dataset: { type: 'STRING', default: 'mnist' } },
  },
  {
    name: 'train',
    service: 'orchestrator',
    command: [...cli('orchestrator'), 'submit', '--dataset', param('dataset'), '--arch', param('arch'), '--epochs', param('epochs'), '--wait'],
    params: { dataset: { type: 'STRING', default: 'mnist' }, arch: { type: 'STRING', default: 'cnn-small' }, epochs: { type: 'NUMBER_INTEGER', default: 3 } },
    after: ['seed-data'],
  },
  { name: 'evaluate', service: 'registry', command: [...cli('registry'), 'versions', param('model')], params: { model: { type: 'STRING', default: 'mnist' } }, after: ['train'] },
  { name: 'register', service: 'registry', command: [...cli('registry'), 'audit', param('model')], params: { model: { type: 'STRING', default: 'mnist' } }, after: ['evaluate'] },
];

/** Each step runs in its service's image: `<registry>/<service>:<tag>`. */
export function compilePipeline(opts: { registry: string; tag: string; name?: string }) {
  const pipelineParams: Record<string, { parameterType: ParamType; defaultValue: string | number }> = {};
  for (const s of STEPS) for (const [k, p] of Object.entries(s.params)) pipelineParams[k] = { parameterType: p.type, defaultValue: p.default };
  return {
    pipelineInfo: { name: opts.name ?? 'mlpipe-train', description: 'Seed data, train, evaluate and register an mlpipe model' },
    sdkVersion: 'mlpipe-0.1.0',
    schemaVersion: '2.1.0',
    components: Object.fromEntries(
      STEPS.map((s) => [
        `comp-${s.name}`,
        {
          executorLabel: `exec-${s.name}`,
          inputDefinitions: { parameters: Object.fromEntries(Object.entries(s.params).map(([k, p]) => [k, { parameterType: p.type }])) },
        },
      ]),
    ),
    deploymentSpec: {
      executors: Object.fromEntries(
        STEPS.map((s) => [`exec-${s.name}`, { container: { image: `${opts.registry}/${s.service}:${opts.tag}`, command: s.command.slice(0, 3), args: s.command.slice(3) } }]),
      ),
    },
    root: {
      dag: {
        tasks: Object.fromEntries(
          STEPS.map((s) => [
            s.name,
            {
              taskInfo: { name: s.name },
              componentRef: { name: `comp-${s.name}` },
              ...(s.after ? { dependentTasks: s.after } : {}),
              inputs: { parameters: Object.fromEntries(Object.keys(s.params).map((k) => [k, { componentInputParameter: k }])) },
            },
          ]),
        ),
      },
      inputDefinitions: { parameters: pipelineParams },
    },
  };
}

const ParameterType = z.enum(['STRING', 'NUMBER_INTEGER', 'NUMBER_DOUBLE', 'BOOLEAN', 'LIST', 'STRUCT']);
/** The part of KFP's PipelineSpec (pipeline_spec.proto field names) that our pipelines use. */
export const PipelineSpecSchema = z
  .object({
    pipelineInfo: z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/), description: z.string().optional() }).strict(),
    sdkVersion: z.string(),
    schemaVersion: z.literal('2.1.0'),
    components: z.record(
      z.string(),
      z.object({ executorLabel: z.string(), inputDefinitions: z.object({ parameters: z.record(z.string(), z.object({ parameterType: ParameterType }).strict()) }).strict().optional() }).strict(),
    ),
    deploymentSpec: z
      .object({
        executors: z.record(z.string(), z.object({ container: z.object({ image: z.string().min(1), command: z.array(z.string()).optional(), args: z.array(z.string()).optional() }).strict() }).strict()),
      })
      .strict(),
    root: z
      .object({
        dag: z
          .object({
            tasks: z.record(
              z.string(),
              z
                .object({
                  taskInfo: z.object({ name: z.string() }).strict(),
                  componentRef: z.object({ name: z.string() }).strict(),
                  dependentTasks: z.array(z.string()).optional(),
                  inputs: z.object({ parameters: z.record(z.string(), z.object({ componentInputParameter: z.string() }).strict()) }).strict().optional(),
                })
                .strict(),
            ),
          })
          .strict(),
        inputDefinitions: z
          .object({ parameters: z.record(z.string(), z.object({ parameterType: ParameterType, defaultValue: z.union([z.string(), z.number(), z.boolean()]).optional() }).strict()) })
          .strict()
          .optional(),
      })
      .strict(),
  })
  .strict();

/** Structure plus the references the KFP backend would resolve: components, executors, tasks, inputs, no cycles. */
export function validatePipeline(spec: unknown): string[] {
  const parsed = PipelineSpecSchema.safeParse(spec);
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const p = parsed.data;
  const errors: string[] = [];
  const rootParams = p.root.inputDefinitions?.parameters ?? {};
  for (const [name, task] of Object.entries(p.root.dag.tasks)) {
    const comp = p.components[task.componentRef.name];
    if (!comp) {
      errors.push(`task ${name}: no component ${task.componentRef.name}`);
      continue;
    }
    if (!p.deploymentSpec.executors[comp.executorLabel]) errors.push(`component ${task.componentRef.name}: no executor ${comp.executorLabel}`);
    for (const dep of task.dependentTasks ?? []) if (!p.root.dag.tasks[dep]) errors.push(`task ${name}: depends on unknown task ${dep}`);
    for (const [input, ref] of Object.entries(task.inputs?.parameters ?? {})) {
      if (!comp.inputDefinitions?.parameters[input]) errors.push(`task ${name}: component takes no input ${input}`);
      if (!rootParams[ref.componentInputParameter]) errors.push(`task ${name}: no pipeline parameter ${ref.componentInputParameter}`);
    }
    const executor = p.deploymentSpec.executors[comp.executorLabel];
    for (const arg of [...(executor?.container.command ?? []), ...(executor?.container.args ?? [])]) {
      for (const m of arg.matchAll(/\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}/g)) {
        if (!comp.inputDefinitions?.parameters[m[1] as string]) errors.push(`executor ${comp.executorLabel}: placeholder for undeclared input ${m[1]}`);
      }
    }
  }
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (t: string): void => {
    if (done.has(t)) return;
    if (visiting.has(t)) {
      errors.push(`task ${t} is part of a dependency cycle`);
      return;
    }
    visiting.add(t);
    for (const d of p.root.dag.tasks[t]?.dependentTasks ?? []) visit(d);
    visiting.delete(t);
    done.add(t);
  };
  Object.keys(p.root.dag.tasks).forEach(visit);
  return errors;
}
