import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConversionError } from './conversion-error.ts';
import { encodeOnnxModel } from './onnx-model.ts';
import { convertOnnxToTfjs } from './onnx-to-tfjs.ts';

const zoo = path.resolve(import.meta.dirname, '../../../zoo');
const opTest = (name: string) => fs.readFileSync(path.join(zoo, 'op-tests', `${name}.onnx`));

const floatTensor = (name: string, dims: number[], raw = new Uint8Array(4 * dims.reduce((a, b) => a * b, 1))) => ({
  name,
  dims,
  dataType: 1,
  rawData: raw,
});
const valueInfo = (name: string, dims: (number | string)[]) => ({
  name,
  type: {
    tensorType: {
      elemType: 1,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

/** A one-node model: input [B, 3, 8, 8] -> op -> output. */
function tinyModel(
  options: {
    opType?: string;
    domain?: string;
    opset?: number;
    inputDims?: (number | string)[];
    initializers?: object[];
  } = {},
) {
  return encodeOnnxModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: options.opset ?? 17 }],
    graph: {
      name: 'tiny',
      node: [
        {
          name: 'the_node',
          opType: options.opType ?? 'Relu',
          domain: options.domain ?? '',
          input: ['input'],
          output: ['output'],
        },
      ],
      initializer: options.initializers ?? [],
      input: [valueInfo('input', options.inputDims ?? ['batch', 3, 8, 8])],
      output: [valueInfo('output', ['batch', 3, 8, 8])],
    },
  });
}

function conversionError(bytes: Uint8Array, options = {}): ConversionError {
  try {
    convertOnnxToTfjs(bytes, options);
  } catch (err) {
    if (err instanceof ConversionError) return err;
    throw err;
  }
  throw new Error('expected the conversion to fail');
}

describe('ONNX -> TF.js converter', () => {
  it('converts a one-op model with a dynamic batch and NHWC input', () => {
    const { artifacts, metadata } = convertOnnxToTfjs(tinyModel());
    expect(metadata).toMatchObject({
      inputHeight: 8,
      inputWidth: 8,
      inputChannels: 3,
      inputLayout: 'NHWC',
      featureDim: 192,
    });
    const ops = artifacts.modelJson.modelTopology.node.map((n) => n.op);
    expect(ops).toContain('Relu');
    expect(artifacts.modelJson.signature.inputs.input?.tensorShape.dim.map((d) => d.size)).toEqual([
      '-1',
      '8',
      '8',
      '3',
    ]);
  });

  it('folds a standalone BatchNormalization into scale and shift, and fuses conv bias with ReLU', () => {
    const { artifacts } = convertOnnxToTfjs(opTest('standalone-batchnorm'));
    const nodes = artifacts.modelJson.modelTopology.node;
    expect(nodes.some((n) => n.op === 'FusedBatchNorm' || n.op === 'BatchNormalization')).toBe(false);
    const conv = nodes.find((n) => n.op === '_FusedConv2D');
    expect(conv).toBeDefined();
    // "BiasAdd" in base64 is Qmlhc0FkZA==
    expect(conv?.attr.fused_ops).toEqual({ list: { s: ['Qmlhc0FkZA=='] } });
  });

  it('rejects bytes that are not an ONNX model, and a truncated file', () => {
    expect(conversionError(new TextEncoder().encode('definitely not protobuf')).code).toBe('malformed');
    const whole = opTest('channel-shuffle');
    const cut = conversionError(whole.subarray(0, Math.floor(whole.length / 2)));
    expect(cut.code).toBe('malformed');
    expect(cut.message).toMatch(/truncated|holds no ONNX graph|declares/);
  });

  it('rejects tensors stored in external data files', () => {
    const external = {
      ...floatTensor('w', [3]),
      rawData: undefined,
      dataLocation: 1,
      externalData: [{ key: 'location', value: 'w.bin' }],
    };
    const err = conversionError(tinyModel({ initializers: [external] }));
    expect(err.code).toBe('external_data');
    expect(err.message).toContain('initializer "w" keeps its data in an external file');
  });

  it('rejects tensors that declare far more data than the file holds', () => {
    const huge = conversionError(
      tinyModel({ initializers: [floatTensor('big', [100_000, 100_000], new Uint8Array(16))] }),
    );
    expect(huge.code).toBe('too_large');
    const short = conversionError(
      tinyModel({ initializers: [floatTensor('short', [1000, 1000], new Uint8Array(16))] }),
    );
    expect(short.code).toBe('malformed');
    expect(short.message).toContain(
      'initializer "short" declares dims [1000, 1000] (4000000 bytes) but the file holds 16 bytes',
    );
  });

  it('names the op and the node it cannot convert', () => {
    const err = conversionError(tinyModel({ opType: 'NonMaxSuppression' }));
    expect(err.code).toBe('unsupported_op');
    expect(err.message).toBe('unsupported op NonMaxSuppression (node "the_node")');
    expect(conversionError(tinyModel({ domain: 'com.example' })).message).toContain('custom domain "com.example"');
  });

  it('rejects a dynamic image size, an unsupported opset and an unknown feature tensor', () => {
    const dynamic = conversionError(tinyModel({ inputDims: ['batch', 3, 'height', 'width'] }));
    expect(dynamic.code).toBe('dynamic_shape');
    expect(dynamic.message).toContain('[batch, 3, height, width]');
    expect(conversionError(tinyModel({ opset: 9 })).message).toContain('opset 9 is not supported');
    const cut = conversionError(tinyModel(), { featureTensor: 'nope' });
    expect(cut.code).toBe('bad_feature_cut');
    expect(cut.message).toContain('no node produces "nope"');
    expect(conversionError(tinyModel(), { inputOfNode: 'missing' }).message).toContain('no node named "missing"');
  });

  it('reports progress node by node', () => {
    const seen: number[] = [];
    convertOnnxToTfjs(opTest('squeeze-fire-concat'), { onProgress: (p) => seen.push(p.done / p.total) });
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.at(-1)).toBe(1);
  });
});
