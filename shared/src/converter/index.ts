export { ConversionError, type ConversionErrorCode } from './conversion-error.ts';
export { loadConvertedModel } from './load-graph-model.ts';
export { encodeOnnxModel, withGraphOutput } from './onnx-model.ts';
export {
  type ConvertedPrior,
  type ConvertOptions,
  convertOnnxToTfjs,
  MAX_OPSET,
  MIN_OPSET,
  type PixelNormalization,
  type PriorModelMetadata,
  WEIGHTS_FILE,
} from './onnx-to-tfjs.ts';
export { compareOutputs, type OutputComparison, preprocessImages } from './preprocess.ts';
export type { GraphModelArtifacts, GraphModelJson } from './tf-graph-builder.ts';
