import { Counter, Histogram, type Registry } from 'prom-client';
import { argmax } from '../core/oip';

/** The model replica's Prometheus series: latency, batches, queueing, classes and confidence per version, variants, shadow agreement. */
export class InferenceMetrics {
  private readonly latency: Histogram;
  private readonly classes: Counter;
  private readonly confidence: Histogram;
  private readonly variants: Counter;
  private readonly shadowed: Counter;
  private readonly batchSize: Histogram;
  private readonly queueTime: Histogram;
  private readonly refused: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.latency = new Histogram({ name: 'mlpipe_inference_seconds', help: 'Inference latency by model version', labelNames: ['model', 'version'], buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1], registers });
    this.classes = new Counter({ name: 'mlpipe_predicted_class_total', help: 'Predictions by class', labelNames: ['model', 'version', 'class'], registers });
    // Top-class probability: a falling distribution warns of drift before labels arrive to show lost accuracy.
    this.confidence = new Histogram({ name: 'mlpipe_prediction_confidence', help: 'Probability of the predicted (top) class', labelNames: ['model', 'version'], buckets: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99], registers });
    this.variants = new Counter({ name: 'mlpipe_variant_requests_total', help: 'Requests by the variant that answered (champion, challenger, pinned, named)', labelNames: ['model', 'variant'], registers });
    this.shadowed = new Counter({ name: 'mlpipe_shadow_predictions_total', help: 'Shadow predictions of the challenger, by agreement with the answer returned', labelNames: ['model', 'agree'], registers });
    // Dynamic batching: how many images each model call carried, and how long requests waited to join one.
    this.batchSize = new Histogram({ name: 'mlpipe_inference_batch_size', help: 'Images per model call (dynamic batching; 1 request = 1 call with GATEWAY_BATCHING=off)', labelNames: ['model', 'version'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.queueTime = new Histogram({ name: 'mlpipe_inference_queue_seconds', help: 'Time a request waited in the batch queue before its model call', labelNames: ['model', 'version'], buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], registers });
    this.refused = new Counter({ name: 'mlpipe_inference_queue_full_total', help: 'Requests refused with 503 because the batch queue was full (GATEWAY_BATCH_MAX_QUEUE)', labelNames: ['model', 'version'], registers });
  }

  /** One batch through a model: its latency, and the class and confidence of every answer. */
  observe(model: { name: string; version: number }, probabilities: number[][], seconds: number): void {
    const labels = { model: model.name, version: String(model.version) };
    this.latency.observe(labels, seconds);
    for (const p of probabilities) {
      this.classes.inc({ ...labels, class: String(argmax(p)) });
      this.confidence.observe(labels, Math.max(...p));
    }
  }

  /** One model call of `size` images, and how long each of its requests waited for it. */
  batch(model: { name: string; version: number }, size: number, queuedSeconds: number[]): void {
    const labels = { model: model.name, version: String(model.version) };
    this.batchSize.observe(labels, size);
    for (const s of queuedSeconds) this.queueTime.observe(labels, s);
  }

  queueFull(model: { name: string; version: number }): void {
    this.refused.inc({ model: model.name, version: String(model.version) });
  }

  served(model: string, variant: string): void {
    this.variants.inc({ model, variant });
  }

  shadow(model: string, agree: boolean): void {
    this.shadowed.inc({ model, agree: String(agree) });
  }
}
