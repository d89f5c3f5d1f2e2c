import type { FastifyPluginAsync } from 'fastify';
import { toNumberArray } from '@mlpipe/common';
import { IMAGE_SIDE, digitToBytes, saliencyMap, type DecodeLimits } from '@mlpipe/ml';
import { argmax } from '../core/oip';
import { readDigitRequest } from '../core/digitRequest';
import type { ImageLimits } from '../core/imageLimits';
import type { Routing } from '../core/routing';
import type { Predictor } from '../app/predictor';
import { saliencyPng } from './saliencyPng';

export interface DigitRoutesOptions {
  routing: Routing;
  predictor: Predictor;
  /** Uploads past these are refused from their headers; the decode runs with the same pixel bound and a memory bound. */
  imageLimits: ImageLimits & Required<Pick<DecodeLimits, 'maxDecodeMB'>>;
}

const rows = (map: Float32Array) => Array.from({ length: IMAGE_SIDE }, (_, r) => toNumberArray(map.subarray(r * IMAGE_SIDE, (r + 1) * IMAGE_SIDE)));

/** `POST /predict` and `POST /explain`: one drawn, uploaded or 28×28 digit, answered for people and the web page. */
export const digitRoutes: FastifyPluginAsync<DigitRoutesOptions> = async (app, o) => {
  app.addContentTypeParser(['image/png', 'image/jpeg'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post('/predict', async (req) => {
    const { input, selector } = readDigitRequest(req.body, req.query, o.imageLimits);
    const seen = digitToBytes(input, o.imageLimits);
    const { loaded, probabilities, seconds, variant, predictionIds } = await o.predictor.answer(o.routing.forSelector(selector), [seen]);
    const p = probabilities[0] as number[];
    return {
      predictionId: predictionIds[0] as string,
      model: loaded.name,
      version: loaded.version,
      variant,
      class: argmax(p),
      probabilities: p,
      input28: toNumberArray(seen),
      latencyMs: seconds * 1000,
    };
  });

  // Explaining is not predicting: nothing is sampled or shadowed.
  app.post('/explain', async (req) => {
    const { input, selector } = readDigitRequest(req.body, req.query, o.imageLimits);
    const seen = digitToBytes(input, o.imageLimits);
    const { loaded, probabilities } = await o.predictor.predict(o.routing.forSelector(selector), [seen]);
    const cls = argmax(probabilities[0] as number[]);
    // Gradients need the tfjs model, whichever runtime answered the prediction (loaded on first use under onnx).
    const map = saliencyMap(await loaded.layers(), seen, cls);
    return { model: loaded.name, version: loaded.version, class: cls, saliency: rows(map), png: saliencyPng(map).toString('base64') };
  });
};
