import { z } from 'zod';

/**
 * The data-parallel training protocol between trainer replicas (core NATS, binary frames whose
 * headers are these schemas; gradients and weights travel as the frames' payload).
 * Bump the version on any incompatible change: members refuse a group speaking another.
 */
export const DP_PROTOCOL_VERSION = 4;

const MemberSchema = z.string().min(1).max(128);

/** coordinator-reduce (every gradient to the coordinator and one mean back) or a ring all-reduce among the members. */
export const ExchangeSchemeSchema = z.enum(['coordinator', 'ring']);
export type ExchangeScheme = z.infer<typeof ExchangeSchemeSchema>;

/**
 * The fence every frame carries: the job attempt, and the coordinator's generation (the revision
 * of its lease in JetStream KV, higher for every new holder). A member ignores frames of an older
 * generation than it has seen, so a stale coordinator cannot commit steps.
 */
const fence = { attempt: z.number().int().positive(), generation: z.number().int().positive() };

export const DpJoinRequestSchema = z.object({ protocol: z.literal(DP_PROTOCOL_VERSION), member: MemberSchema }).strict();
export type DpJoinRequest = z.infer<typeof DpJoinRequestSchema>;

export const DpJoinReplySchema = z
  .object({
    accepted: z.boolean(),
    group: z.string().min(1).optional(),
    reason: z.string().optional(),
    /** A refusal that may pass (the coordinator is renewing its lease after an outage): ask again. */
    retry: z.boolean().optional(),
    heartbeatMs: z.number().int().positive().optional(),
    attempt: fence.attempt.optional(),
    generation: fence.generation.optional(),
  })
  .strict();
export type DpJoinReply = z.infer<typeof DpJoinReplySchema>;

/** A member's heartbeat says how far it has applied, so the coordinator knows when its last step reached everyone. */
export const DpHeartbeatSchema = z.object({ group: z.string().min(1), member: MemberSchema, appliedThrough: z.number().int().min(-1).optional() }).strict();

export const EpochSummarySchema = z
  .object({ epoch: z.number().int().min(1), loss: z.number(), accuracy: z.number().min(0).max(1), samples: z.number().int().nonnegative(), seconds: z.number().nonnegative() })
  .strict();
export type EpochSummary = z.infer<typeof EpochSummarySchema>;

/** A committed step: every live member applies its mean gradient (the frame's payload). */
export const AppliedStepSchema = z
  .object({
    step: z.number().int().nonnegative(),
    /** `ring`: no payload; every member applies the mean its ring all-reduce of this step and round computed. */
    encoding: z.enum(['f32', 'f16', 'ring']),
    /** The round whose ring result is applied (with `encoding: ring`). */
    round: z.number().int().nonnegative().optional(),
    count: z.number().int().nonnegative(),
    epochEnd: EpochSummarySchema.optional(),
  })
  .strict();
export type AppliedStep = z.infer<typeof AppliedStepSchema>;

export const DpControlSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('step'),
      group: z.string().min(1),
      ...fence,
      step: z.number().int().nonnegative(),
      round: z.number().int().nonnegative(),
      members: z.array(MemberSchema).min(1),
      /**
       * How this round's gradients are combined: `ring` (the members all-reduce among themselves and
       * report only counts), or `coordinator` (each member sends its gradient sum here). Absent means
       * coordinator; a ring round that falls back is announced again as coordinator.
       */
      exchange: ExchangeSchemeSchema.optional(),
      apply: AppliedStepSchema.optional(),
      /** Joiners get the current weights and optimizer state from a synchronised member first. */
      transfer: z.object({ from: MemberSchema, to: z.array(MemberSchema).min(1) }).strict().optional(),
    })
    .strict(),
  z.object({ kind: z.literal('done'), group: z.string().min(1), ...fence, apply: AppliedStepSchema }).strict(),
  z.object({ kind: z.literal('abort'), group: z.string().min(1), ...fence, reason: z.string().min(1) }).strict(),
]);
export type DpControl = z.infer<typeof DpControlSchema>;

export const DpGradientMetaSchema = z
  .object({
    group: z.string().min(1),
    ...fence,
    step: z.number().int().nonnegative(),
    round: z.number().int().nonnegative(),
    member: MemberSchema,
    count: z.number().int().nonnegative(),
    lossSum: z.number(),
    correct: z.number().int().nonnegative(),
    /** `ring`: the member's ring all-reduce of this round succeeded; the payload is empty. */
    encoding: z.enum(['f32', 'f16', 'topk', 'ring']),
  })
  .strict();
export type DpGradientMeta = z.infer<typeof DpGradientMetaSchema>;

export const DpStateMetaSchema = z
  .object({
    group: z.string().min(1),
    ...fence,
    /** The last step applied to these weights. */
    appliedThrough: z.number().int().min(-1),
    from: MemberSchema,
    to: z.array(MemberSchema).min(1),
    modelJsonBytes: z.number().int().positive(),
  })
  .strict();
export type DpStateMeta = z.infer<typeof DpStateMetaSchema>;
