import type { Logger } from '@mlpipe/common';

type Step = { name: string; run: () => Promise<void> | void };

/**
 * Ordered, idempotent shutdown with a deadline: steps run in the order they were added
 * (stop consumers → wait for in-flight → drain NATS → close pools → telemetry).
 */
export class Shutdown {
  private readonly steps: Step[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly deadlineMs = 15_000,
  ) {}

  add(name: string, run: () => Promise<void> | void): void {
    this.steps.push({ name, run });
  }

  run(reason: string): Promise<void> {
    this.running ??= this.runSteps(reason);
    return this.running;
  }

  private async runSteps(reason: string): Promise<void> {
    this.logger.info({ reason }, 'shutting down');
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), this.deadlineMs).unref());
    for (const step of this.steps) {
      try {
        const outcome = await Promise.race([Promise.resolve(step.run()).then(() => 'done' as const), deadline]);
        if (outcome === 'timeout') {
          this.logger.warn({ step: step.name }, 'shutdown deadline reached');
          return;
        }
      } catch (err) {
        this.logger.warn({ step: step.name, err }, 'shutdown step failed');
      }
    }
    this.logger.info('shutdown complete');
  }
}
