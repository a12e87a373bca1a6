export {
  ALIGNMENT_RESIDUAL_TOLERANCE,
  type AlignmentSplit,
  type AlignmentTask,
  alignmentSplit,
  checkAlignmentTask,
  defaultAlignmentTask,
  HELD_OUT_FRACTION,
  packAlignmentMap,
  solveAlignmentTask,
} from './alignment-task.ts';
export { globalInconsistency, type InconsistencyOptions, projectionDirections } from './inconsistency.ts';
export { randomProjection, referenceTargets } from './random-projection.ts';
export {
  type AlignmentFit,
  type AlignmentOptions,
  alignmentResidual,
  applyAlignment,
  DEFAULT_RIDGE_LAMBDA,
  fitAlignment,
  heldOutR2,
} from './ridge-alignment.ts';
export { SeededRandom } from './seeded-random.ts';
export * from './target-codec.ts';
export { TargetStreamDecoder } from './target-stream-decoder.ts';
export { UNIFORMITY_T, uniformityValue } from './uniformity.ts';
