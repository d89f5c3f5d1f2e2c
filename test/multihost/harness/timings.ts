/**
 * Trainer timings of the multihost scenarios: the shipped defaults scaled down (heartbeats, lease,
 * ack wait, checkpoints) so a drop, a hand-over or a resume happens within seconds, and a file
 * stays well under a minute and a half. The protocol is the same; only its clocks are shorter.
 */
export const FAST_TRAINER_ENV: Record<string, string> = {
  TRAINER_HEARTBEAT_MS: '500',
  TRAINER_HEARTBEAT_TIMEOUT_MS: '4000',
  TRAINER_STEP_TIMEOUT_MS: '15000',
  TRAINER_RETRANSMIT_MS: '2000',
  TRAINER_LEASE_TTL_MS: '4000',
  TRAINER_ACK_WAIT_MS: '8000',
  TRAINER_CHECKPOINT_EVERY_MS: '3000',
  TRAINER_JOIN_WINDOW_MS: '15000',
  TRAINER_JOIN_TIMEOUT_MS: '30000',
};
