export { exportOnnx, ONNX_BATCH_DIM, ONNX_INPUT, ONNX_OUTPUT, UnsupportedLayerError } from './export';
export { loadOnnxRuntime, ONNX_TOLERANCE, verifyOnnx, type OnnxVerdict } from './verify';
export { ONNX_OPSET } from './graph';
