export * from './campaigns.ts';
export * from './datasets.ts';
export * from './error-codes.ts';
export * from './health.ts';
export * from './protocol.ts';
