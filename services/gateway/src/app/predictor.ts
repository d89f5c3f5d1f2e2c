import { randomUUID } from 'node:crypto';
import { NotFoundError, TransientError, type Logger } from '@mlpipe/common';
import { argmax } from '../core/oip';
import { championRoute, type Route, type ServedVariant } from '../core/routing';
import type { ModelSelector } from '../core/modelSelector';
import type { LoadedModel, ModelCache } from '../adapters/modelCache';
import type { PredictionLog } from '../adapters/predictionLog';
import type { InferenceMetrics } from '../adapters/inferenceMetrics';
import type { Batcher } from './batcher';

export interface Prediction {
  loaded: LoadedModel;
  /** One row of class probabilities per image. */
  probabilities: number[][];
  /** Time in the batch queue plus the model call that answered it. */
  seconds: number;
  variant: ServedVariant;
}

/** An answered request: the prediction and the ids its samples are kept under. */
export interface Answer extends Prediction {
  predictionIds: string[];
}

export interface PredictorDeps {
  models: ModelCache;
  metrics: InferenceMetrics;
  /** Runs the model calls: dynamic batching per loaded version, or one call per request (GATEWAY_BATCHING=off). */
  batcher: Batcher;
  logger: Logger;
  /** Where sampled predictions go (drift monitoring, lineage); none: nothing is kept. */
  predictionLog?: PredictionLog | undefined;
}

/** Runs the models: predicts by a route, samples what was seen and said, and lets the challenger shadow. */
export class Predictor {
  constructor(private readonly deps: PredictorDeps) {}

  /** A prediction request: answered by the route, each image sampled under a new id, then shadowed. */
  async answer(route: Route, images: Uint8Array[]): Promise<Answer> {
    const out = await this.predict(route, images);
    const predictionIds = images.map(() => randomUUID());
    images.forEach((img, i) => this.record(predictionIds[i] as string, out.loaded, out.variant, img, out.probabilities[i] as number[]));
    this.shadow(route, images, out.probabilities, predictionIds);
    return { ...out, predictionIds };
  }

  /** Answers by the route, nothing kept; a canary draw with no challenger registered falls back to the champion. */
  async predict(route: Route, images: Uint8Array[]): Promise<Prediction> {
    try {
      const out = await this.run(route.selector, images);
      this.deps.metrics.served(out.loaded.name, route.variant);
      return { ...out, variant: route.variant };
    } catch (err) {
      if (!(err instanceof NotFoundError) || route.variant !== 'challenger') throw err;
      return this.predict(championRoute(route.selector.name), images);
    }
  }

  private async run(sel: ModelSelector, images: Uint8Array[]): Promise<Omit<Prediction, 'variant'>> {
    const loaded = await this.deps.models.get(sel);
    const { probabilities, seconds } = await this.deps.batcher.predict(loaded, images);
    return { loaded, probabilities, seconds };
  }

  /** Samples what a model saw and said, for drift monitoring and lineage. */
  private record(predictionId: string, loaded: LoadedModel, variant: ServedVariant | 'shadow', seen: Uint8Array, p: number[]): void {
    this.deps.predictionLog?.offer(() => ({
      predictionId,
      at: new Date().toISOString(),
      model: loaded.name,
      version: loaded.version,
      variant,
      class: argmax(p),
      confidence: Math.max(...p),
      input28: Buffer.from(seen).toString('base64'),
    }));
  }

  /** The challenger scores the same inputs after the answer went out; logged and counted, never returned. */
  private shadow(route: Route, images: Uint8Array[], answered: number[][], ids: string[]): void {
    const selector = route.shadow;
    if (!selector) return;
    setImmediate(() => {
      this.run(selector, images).then(
        ({ loaded, probabilities }) => {
          probabilities.forEach((p, i) => {
            this.deps.metrics.shadow(loaded.name, argmax(p) === argmax(answered[i] as number[]));
            this.record(ids[i] as string, loaded, 'shadow', images[i] as Uint8Array, p);
          });
          this.deps.logger.info({ predictionIds: ids, shadowVersion: loaded.version, shadowClasses: probabilities.map(argmax), answered: answered.map(argmax) }, 'shadow prediction');
        },
        (err: unknown) => {
          // No challenger, or a full batch queue: shadowing is best effort and must not add to an overload.
          if (err instanceof TransientError && err.code === 'overloaded') this.deps.logger.debug({ predictionIds: ids }, 'shadow prediction skipped: the batch queue is full');
          else if (!(err instanceof NotFoundError)) this.deps.logger.warn({ err }, 'shadow prediction failed');
        },
      );
    });
  }
}
