import { describe, expect, it } from 'vitest';
import { datasetImportRequestSchema, datasetNameSchema } from './datasets.ts';
import { ErrorCode, errorBodySchema } from './error-codes.ts';

describe('error body', () => {
  it('accepts every error code and rejects unknown ones', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(errorBodySchema.safeParse({ error: { code, message: 'x' } }).success).toBe(true);
    }
    expect(errorBodySchema.safeParse({ error: { code: 'oops', message: 'x' } }).success).toBe(false);
  });
});

describe('dataset names', () => {
  it.each(['fashion-mnist', 'cifar10.train', 'a_b-1'])('accepts %s', (name) => {
    expect(datasetNameSchema.safeParse(name).success).toBe(true);
  });
  it.each(['', '../etc', 'UPPER', 'a/b', '-lead', 'x'.repeat(65), 'nul\0'])('rejects %j', (name) => {
    expect(datasetNameSchema.safeParse(name).success).toBe(false);
  });
  it('rejects upload file names with path separators', () => {
    const parsed = datasetImportRequestSchema.safeParse({
      format: 'idx',
      name: 'x',
      images: { blob: 'a'.repeat(64), fileName: '../../etc/passwd' },
    });
    expect(parsed.success).toBe(false);
  });
});
