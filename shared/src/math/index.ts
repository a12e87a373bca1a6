export { globalInconsistency, type InconsistencyOptions, projectionDirections } from './inconsistency.ts';
export { randomProjection, referenceTargets } from './random-projection.ts';
export {
  type AlignmentFit,
  type AlignmentOptions,
  applyAlignment,
  fitAlignment,
  heldOutR2,
} from './ridge-alignment.ts';
export { SeededRandom } from './seeded-random.ts';
export * from './target-codec.ts';
export { UNIFORMITY_T, uniformityValue } from './uniformity.ts';
