import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { type ConvertOptions, convertOnnxToTfjs } from '@coopt/shared/converter';
import { describe, expect, it } from 'vitest';
import { knownSources } from '../datasets/known-sources.ts';
import { verifyConversion } from './prior-verifier.ts';
import { readZooManifest, zooDir } from './prior-zoo.ts';

/** Eight real Fashion-MNIST test images, raw uint8. */
function fashionImages(n = 8) {
  const source = knownSources.find((s) => s.id === 'fashion-mnist-test');
  if (!source) throw new Error('missing demo data');
  const bytes = zlib.gunzipSync(fs.readFileSync(source.images));
  return {
    pixels: new Uint8Array(bytes.subarray(16, 16 + n * 784)),
    shape: [n, 28, 28, 1] as [number, number, number, number],
  };
}

const images = fashionImages();
/** Far inside the registration gate of 1e-3: conversion is exact up to float32 reordering. */
const TOLERANCE = 1e-4;

async function check(file: string, options: ConvertOptions = {}) {
  const bytes = fs.readFileSync(file);
  const converted = convertOnnxToTfjs(bytes, options);
  const result = await verifyConversion(bytes, converted, images);
  expect(result.maxAbs, 'the reference output must not be degenerate').toBeGreaterThan(1e-3);
  expect(result.relError).toBeLessThan(TOLERANCE);
  return { converted, result };
}

const onnxIn = (dir: string) =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.onnx'))
        .map((f) => path.join(dir, f))
    : [];

describe('zoo priors convert and match onnxruntime', () => {
  const zoo = readZooManifest();
  it('has a zoo to check', () => expect(zoo.length).toBeGreaterThanOrEqual(5));
  it.each(zoo.map((z) => [z.name, z] as const))('%s', async (_, entry) => {
    const { converted } = await check(path.join(zooDir, entry.file), {
      featureTensor: entry.featureOutput,
      normalization: entry.preprocessing,
    });
    expect(converted.metadata.featureDim).toBe(entry.featureDim);
  });
});

describe('op-coverage models convert and match onnxruntime', () => {
  const files = onnxIn(path.join(zooDir, 'op-tests'));
  it('has op-coverage models', () => expect(files.length).toBeGreaterThanOrEqual(9));
  it.each(files.map((f) => [path.basename(f, '.onnx'), f]))('%s', async (_, file) => {
    await check(file);
  });
});

// torchvision models with random weights, made by `zoo/train_zoo.py --conformance` (too large to commit).
const conformance = onnxIn(path.join(zooDir, 'conformance'));
describe.each(conformance.length > 0 ? [{ files: conformance }] : [])('torchvision conformance models', ({ files }) => {
  it.each(files.map((f) => [path.basename(f, '.onnx'), f]))('%s', async (_, file) => {
    await check(file);
  });

  it('resnet18 cut at the input of its classifier', async () => {
    const { converted } = await check(path.join(zooDir, 'conformance/resnet18.onnx'), { inputOfNode: '/fc/Gemm' });
    expect(converted.metadata.featureDim).toBe(512);
  });
});
