import fs from 'node:fs';
import path from 'node:path';
import { convertOnnxToTfjs } from '@coopt/shared/converter';
import { describe, expect, it } from 'vitest';
import { MAX_RELATIVE_ERROR, verifyConversion } from './prior-verifier.ts';
import { zooDir } from './prior-zoo.ts';

describe('conversion verification', () => {
  const bytes = fs.readFileSync(path.join(zooDir, 'op-tests', 'grouped-and-depthwise-conv.onnx'));
  const images = {
    pixels: new Uint8Array(4 * 20 * 20).map((_, i) => (i * 37) % 256),
    shape: [4, 20, 20, 1] as [number, number, number, number],
  };

  it('passes a faithful conversion', async () => {
    const result = await verifyConversion(bytes, convertOnnxToTfjs(bytes), images);
    expect(result.images).toBe(4);
    expect(result.relError).toBeLessThan(MAX_RELATIVE_ERROR);
  });

  it('catches a conversion whose weights are off', async () => {
    const converted = convertOnnxToTfjs(bytes);
    const w = new Float32Array(converted.artifacts.weightData.buffer.slice(0));
    for (let i = 0; i < w.length; i += 7) w[i] = (w[i] as number) * 1.05;
    converted.artifacts.weightData = new Uint8Array(w.buffer);
    const result = await verifyConversion(bytes, converted, images);
    expect(result.relError).toBeGreaterThan(MAX_RELATIVE_ERROR);
  });
});
