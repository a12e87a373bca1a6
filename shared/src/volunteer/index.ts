export { type AlignmentMap, type PriorInputMeta, runPriorBatch } from './prior-batch.ts';
export * from './volunteer-lifecycle.ts';
