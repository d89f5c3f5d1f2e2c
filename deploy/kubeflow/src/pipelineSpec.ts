import { z } from 'zod';

/**
 * The part of KFP's PipelineSpec (pipeline_spec.proto, JSON field names) and of the kfp-kubernetes
 * PlatformSpec (kubernetes_executor_config.proto) that our pipelines use, strictly: an unknown or
 * misspelt field is an error, as it would be when KFP parses the protobuf JSON.
 */
const ParameterType = z.enum(['STRING', 'NUMBER_INTEGER', 'NUMBER_DOUBLE', 'BOOLEAN', 'LIST', 'STRUCT']);
const K8sName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);

const Container = z
  .object({
    image: z.string().min(1),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: z.array(z.object({ name: EnvName, value: z.string() }).strict()).optional(),
  })
  .strict();

const Task = z
  .object({
    taskInfo: z.object({ name: z.string() }).strict(),
    componentRef: z.object({ name: z.string() }).strict(),
    dependentTasks: z.array(z.string()).optional(),
    inputs: z.object({ parameters: z.record(z.string(), z.object({ componentInputParameter: z.string() }).strict()) }).strict().optional(),
  })
  .strict();

export const PipelineSpecSchema = z
  .object({
    pipelineInfo: z.object({ name: K8sName, description: z.string().optional() }).strict(),
    sdkVersion: z.string(),
    schemaVersion: z.literal('2.1.0'),
    components: z.record(
      z.string(),
      z.object({ executorLabel: z.string(), inputDefinitions: z.object({ parameters: z.record(z.string(), z.object({ parameterType: ParameterType }).strict()) }).strict().optional() }).strict(),
    ),
    deploymentSpec: z.object({ executors: z.record(z.string(), z.object({ container: Container }).strict()) }).strict(),
    root: z
      .object({
        dag: z.object({ tasks: z.record(z.string(), Task) }).strict(),
        inputDefinitions: z
          .object({ parameters: z.record(z.string(), z.object({ parameterType: ParameterType, defaultValue: z.union([z.string(), z.number(), z.boolean()]).optional(), isOptional: z.boolean().optional() }).strict()) })
          .strict()
          .optional(),
      })
      .strict(),
  })
  .strict();

const SecretAsEnv = z.object({ secretName: K8sName, keyToEnv: z.array(z.object({ secretKey: z.string().min(1), envVar: EnvName }).strict()).min(1), optional: z.boolean().optional() }).strict();

export const PlatformSpecSchema = z
  .object({
    platforms: z.object({ kubernetes: z.object({ deploymentSpec: z.object({ executors: z.record(z.string(), z.object({ secretAsEnv: z.array(SecretAsEnv) }).strict()) }).strict() }).strict() }).strict(),
  })
  .strict();

type PipelineSpec = z.output<typeof PipelineSpecSchema>;
const PLACEHOLDER = /\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}/g;

/** References the KFP backend would resolve: components, executors, tasks, inputs, placeholders; no cycles. */
function referenceErrors(p: PipelineSpec): string[] {
  const errors: string[] = [];
  const rootParams = p.root.inputDefinitions?.parameters ?? {};
  for (const [name, task] of Object.entries(p.root.dag.tasks)) {
    const comp = p.components[task.componentRef.name];
    if (!comp) {
      errors.push(`task ${name}: no component ${task.componentRef.name}`);
      continue;
    }
    const executor = p.deploymentSpec.executors[comp.executorLabel];
    if (!executor) errors.push(`component ${task.componentRef.name}: no executor ${comp.executorLabel}`);
    for (const dep of task.dependentTasks ?? []) if (!p.root.dag.tasks[dep]) errors.push(`task ${name}: depends on unknown task ${dep}`);
    for (const [input, ref] of Object.entries(task.inputs?.parameters ?? {})) {
      if (!comp.inputDefinitions?.parameters[input]) errors.push(`task ${name}: component takes no input ${input}`);
      if (!rootParams[ref.componentInputParameter]) errors.push(`task ${name}: no pipeline parameter ${ref.componentInputParameter}`);
    }
    for (const input of Object.keys(comp.inputDefinitions?.parameters ?? {})) {
      if (!task.inputs?.parameters[input]) errors.push(`task ${name}: input ${input} is not given`);
    }
    for (const arg of [...(executor?.container.command ?? []), ...(executor?.container.args ?? [])]) {
      for (const m of arg.matchAll(PLACEHOLDER)) {
        if (!comp.inputDefinitions?.parameters[m[1] ?? '']) errors.push(`executor ${comp.executorLabel}: placeholder for undeclared input ${m[1]}`);
      }
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: string): void => {
    if (state.get(t) === 'done') return;
    if (state.get(t) === 'visiting') {
      errors.push(`task ${t} is part of a dependency cycle`);
      return;
    }
    state.set(t, 'visiting');
    for (const d of p.root.dag.tasks[t]?.dependentTasks ?? []) visit(d);
    state.set(t, 'done');
  };
  Object.keys(p.root.dag.tasks).forEach(visit);
  return errors;
}

const issues = (prefix: string, e: z.ZodError) => e.issues.map((i) => `${prefix}${i.path.join('.')}: ${i.message}`);

/** Every problem found in a compiled pipeline (PipelineSpec and optional PlatformSpec); empty when valid. */
export function validatePipeline(pipelineSpec: unknown, platformSpec?: unknown): string[] {
  const parsed = PipelineSpecSchema.safeParse(pipelineSpec);
  if (!parsed.success) return issues('', parsed.error);
  const errors = referenceErrors(parsed.data);
  if (platformSpec !== undefined) {
    const platform = PlatformSpecSchema.safeParse(platformSpec);
    if (!platform.success) return [...errors, ...issues('platforms.', platform.error)];
    for (const exec of Object.keys(platform.data.platforms.kubernetes.deploymentSpec.executors)) {
      if (!parsed.data.deploymentSpec.executors[exec]) errors.push(`platform spec configures unknown executor ${exec}`);
    }
  }
  return errors;
}
