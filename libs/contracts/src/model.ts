import { z } from 'zod';
import { AliasSchema, IdSchema, ModelNameSchema } from './common';

export const GateDecisionSchema = z
  .object({
    outcome: z.enum(['champion', 'challenger']),
    reason: z.string().min(1),
  })
  .strict();
export type GateDecision = z.infer<typeof GateDecisionSchema>;

export const ModelVersionRegisteredSchema = z
  .object({
    modelName: ModelNameSchema,
    version: z.number().int().positive(),
    runId: IdSchema,
    jobId: IdSchema,
    testAccuracy: z.number().min(0).max(1),
    datasetVersion: z.string().min(1),
    trainSamples: z.number().int().nonnegative(),
    artefactPrefix: z.string().min(1),
    decision: GateDecisionSchema,
  })
  .strict();
export type ModelVersionRegistered = z.infer<typeof ModelVersionRegisteredSchema>;

export const ModelAliasChangedSchema = z
  .object({
    modelName: ModelNameSchema,
    alias: AliasSchema,
    version: z.number().int().positive(),
    previousVersion: z.number().int().positive().nullable(),
    reason: z.string().min(1),
    actor: z.string().min(1),
  })
  .strict();
export type ModelAliasChanged = z.infer<typeof ModelAliasChangedSchema>;
