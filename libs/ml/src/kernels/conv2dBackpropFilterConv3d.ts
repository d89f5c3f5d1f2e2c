import * as tf from '@tensorflow/tfjs';

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | unknown;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
};

type Backend = {
  readSync(dataId: object): unknown;
  write(values: Float32Array, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object): boolean;
};

/**
 * The WASM backend has no Conv2DBackpropFilter (the filter gradient of a 2-D convolution), so a
 * CNN cannot train on it. This is the general, slow one (the backend's scalar 3-D loops), kept as
 * the fallback for what conv2dGradients.ts does not cover. A 2-D convolution is a 3-D one of depth 1, and the backend does have
 * Conv3DBackpropFilterV2: we hand it buffers described with a depth axis of 1 ([N,H,W,C] →
 * [N,1,H,W,C]) and read the gradient back without it ([1,fh,fw,ci,co] → [fh,fw,ci,co]).
 *
 * That kernel is right for stride 1 but wrong for larger strides (its results differ from the CPU
 * backend's at the borders; see the tests). For strides > 1 we first turn the problem into a
 * stride-1 one: dy is spread out with zeros between its rows and columns, and x is padded and cut
 * so that a stride-1 "valid" convolution covers exactly the positions the strided one touched.
 */
export function registerConv3dFilterGradient(): boolean {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return false;
  const conv3d = tf.getKernel('Conv3DBackpropFilterV2', 'wasm');
  if (!conv3d) throw new Error('the WASM backend lacks Conv3DBackpropFilterV2 too: cannot train CNNs on it');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as Conv2DBackpropFilterAttrs;
      if (a.dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter on WASM supports NHWC only, got ${a.dataFormat}`);
      if (a.pad !== 'same' && a.pad !== 'valid' && typeof a.pad !== 'number') {
        throw new Error('Conv2DBackpropFilter on WASM supports "same", "valid" or numeric padding only');
      }
      const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      const [fh, fw, ci, co] = a.filterShape;
      const viaConv3d = (xi: tf.TensorInfo, dyi: tf.TensorInfo, pad: unknown, strides: number[]): tf.TensorInfo => {
        const dw = conv3d.kernelFunc({
          inputs: { x: withDepth1(xi), dy: withDepth1(dyi) },
          backend,
          attrs: { strides: [1, ...strides], pad: pad as string, filterShape: [1, fh, fw, ci, co] },
        }) as tf.TensorInfo;
        return { dataId: dw.dataId, dtype: dw.dtype, shape: [fh, fw, ci, co] };
      };
      if (sh === 1 && sw === 1) return viaConv3d(x, dy, a.pad, [1, 1]);

      const b = backend as unknown as Backend;
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        a.filterShape,
        [sh, sw],
        1,
        a.pad as 'same' | 'valid' | number,
        a.dimRoundingMode,
      );
      const xp = padAndCrop(b.readSync(x.dataId) as Float32Array, x.shape, info.outHeight, info.outWidth, sh, sw, fh, fw, info.padInfo);
      const dyd = spread(b.readSync(dy.dataId) as Float32Array, dy.shape, sh, sw);
      const xInfo: tf.TensorInfo = { dataId: b.write(xp.values, xp.shape, 'float32'), shape: xp.shape, dtype: 'float32' };
      const dyInfo: tf.TensorInfo = { dataId: b.write(dyd.values, dyd.shape, 'float32'), shape: dyd.shape, dtype: 'float32' };
      try {
        return viaConv3d(xInfo, dyInfo, 'valid', [1, 1]);
      } finally {
        b.disposeData(xInfo.dataId);
        b.disposeData(dyInfo.dataId);
      }
    },
  });
  return true;
}

function withDepth1(t: tf.TensorInfo): tf.TensorInfo {
  return { dataId: t.dataId, dtype: t.dtype, shape: [t.shape[0] as number, 1, ...t.shape.slice(1)] };
}

/** dy [N,oh,ow,C] → [N,(oh-1)·sh+1,(ow-1)·sw+1,C] with zeros between the original rows and columns. */
function spread(values: Float32Array, shape: number[], sh: number, sw: number): { values: Float32Array; shape: number[] } {
  const [n, oh, ow, c] = shape as [number, number, number, number];
  const h = (oh - 1) * sh + 1;
  const w = (ow - 1) * sw + 1;
  const out = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const src = ((b * oh + i) * ow + j) * c;
        out.set(values.subarray(src, src + c), ((b * h + i * sh) * w + j * sw) * c);
      }
  return { values: out, shape: [n, h, w, c] };
}

/** x [N,H,W,C] padded by (top, left) and cut or zero-filled to the extent a stride-1 pass needs. */
function padAndCrop(
  values: Float32Array,
  shape: number[],
  oh: number,
  ow: number,
  sh: number,
  sw: number,
  fh: number,
  fw: number,
  pad: { top: number; left: number },
): { values: Float32Array; shape: number[] } {
  const [n, H, W, c] = shape as [number, number, number, number];
  const h = (oh - 1) * sh + fh;
  const w = (ow - 1) * sw + fw;
  const out = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++) {
      const si = i - pad.top;
      if (si < 0 || si >= H) continue;
      for (let j = 0; j < w; j++) {
        const sj = j - pad.left;
        if (sj < 0 || sj >= W) continue;
        const src = ((b * H + si) * W + sj) * c;
        out.set(values.subarray(src, src + c), ((b * h + i) * w + j) * c);
      }
    }
  return { values: out, shape: [n, h, w, c] };
}
