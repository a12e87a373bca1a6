import { ConversionError, describeNode } from './conversion-error.ts';
import { ConvertContext } from './convert-context.ts';
import { type OnnxModel, type OnnxNode, parseOnnxModel } from './onnx-model.ts';
import { OP_CONVERTERS } from './op-registry.ts';
import { BATCH, type Dim, isStatic, productOf, showShape } from './symbolic-dim.ts';
import { decodeTensor } from './tensor-data.ts';
import { attr, type GraphModelArtifacts, TfGraphBuilder } from './tf-graph-builder.ts';

export const MIN_OPSET = 11;
export const MAX_OPSET = 17;

/** How images become the prior's input; the admin states it, ONNX does not record it. */
export interface PixelNormalization {
  /** Multiplies raw 0..255 pixels, e.g. 1/255. */
  pixelScale: number;
  /** Per channel, applied after scaling: (x * scale - mean) / std. */
  mean: number[];
  std: number[];
}

/** Stored with every converted prior; the volunteer worker preprocesses by it. */
export interface PriorModelMetadata extends PixelNormalization {
  inputHeight: number;
  inputWidth: number;
  inputChannels: number;
  /** The converted model takes NHWC float input; ONNX took NCHW. */
  inputLayout: 'NHWC';
  featureTensor: string;
  featureDim: number;
  opset: number;
  producer: string;
}

export interface ConvertOptions {
  /** The tensor that is psi(x): a graph output or any intermediate tensor. Default: the first output. */
  featureTensor?: string;
  /** Alternatively: the first input of this node, e.g. the final classifier's Gemm. */
  inputOfNode?: string;
  normalization?: Partial<PixelNormalization>;
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface ConvertedPrior {
  artifacts: GraphModelArtifacts;
  metadata: PriorModelMetadata;
  /** ONNX nodes left out because the feature tensor does not depend on them. */
  prunedNodes: number;
  /** The ONNX graph's declared outputs. */
  onnxOutputs: string[];
}

export const WEIGHTS_FILE = 'weights.bin';

function featureTensorOf(model: OnnxModel, options: ConvertOptions): string {
  if (options.inputOfNode !== undefined) {
    const node = model.nodes.find((n) => n.name === options.inputOfNode);
    if (!node) throw new ConversionError('bad_feature_cut', `the graph has no node named "${options.inputOfNode}"`);
    const input = node.inputs[0];
    if (!input) throw new ConversionError('bad_feature_cut', `node "${options.inputOfNode}" has no input`);
    return input;
  }
  const name = options.featureTensor ?? model.outputs[0]?.name;
  if (!name) throw new ConversionError('bad_feature_cut', 'the model declares no output');
  if (!model.nodes.some((n) => n.outputs.includes(name))) {
    const outputs = model.outputs.map((o) => `"${o.name}"`).join(', ');
    throw new ConversionError('bad_feature_cut', `no node produces "${name}"; the model's outputs are ${outputs}`);
  }
  return name;
}

/** The nodes the feature tensor depends on, in graph order. */
function neededNodes(model: OnnxModel, target: string): OnnxNode[] {
  const producer = new Map<string, OnnxNode>();
  for (const n of model.nodes) for (const o of n.outputs) producer.set(o, n);
  const needed = new Set<OnnxNode>();
  const stack = [target];
  while (stack.length > 0) {
    const node = producer.get(stack.pop() as string);
    if (!node || needed.has(node)) continue;
    needed.add(node);
    stack.push(...node.inputs.filter(Boolean));
  }
  return model.nodes.filter((n) => needed.has(n));
}

/**
 * Converts an ONNX image model (as torch.onnx.export writes it, opset 11-17) into a TF.js graph
 * model whose single output is the feature tensor. The batch dimension stays dynamic; the
 * graph runs NHWC end to end with BatchNormalization folded and bias/activations fused.
 */
export function convertOnnxToTfjs(bytes: Uint8Array, options: ConvertOptions = {}): ConvertedPrior {
  const model = parseOnnxModel(bytes);
  if (model.opset < MIN_OPSET || model.opset > MAX_OPSET) {
    throw new ConversionError(
      'unsupported_op',
      `opset ${model.opset} is not supported; export with opset_version between ${MIN_OPSET} and ${MAX_OPSET}`,
    );
  }
  const input = model.inputs[0];
  if (model.inputs.length !== 1 || !input) {
    throw new ConversionError(
      'malformed',
      `a prior takes exactly one image input; this model has ${model.inputs.length}`,
    );
  }
  const [, c, h, w] = input.dims;
  if (
    input.dims.length !== 4 ||
    typeof c !== 'number' ||
    typeof h !== 'number' ||
    typeof w !== 'number' ||
    (c !== 1 && c !== 3)
  ) {
    throw new ConversionError(
      'dynamic_shape',
      `input "${input.name}" has shape [${input.dims.join(', ')}]; a prior takes [batch, 1 or 3, height, width] with a fixed image size`,
    );
  }

  const target = featureTensorOf(model, options);
  const nodes = neededNodes(model, target);
  const consumers = new Map<string, number>([[target, 1]]);
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);

  const builder = new TfGraphBuilder();
  const placeholder = builder.addNode('input', 'Placeholder', [], {
    dtype: attr.dtype('float32'),
    shape: attr.shape([-1, h, w, c]),
  });
  const ctx = new ConvertContext(builder, model.opset, consumers, placeholder.name);
  ctx.set(input.name, {
    kind: 'tensor',
    ref: placeholder.name,
    shape: [BATCH, c, h, w],
    layout: 'nhwc',
    dtype: 'float32',
  });
  for (const [name, tensor] of model.initializers) {
    if (consumers.has(name)) ctx.set(name, { kind: 'const', value: decodeTensor(tensor) });
  }

  nodes.forEach((node, i) => {
    if (node.domain && node.domain !== 'ai.onnx') {
      throw new ConversionError('unsupported_op', `${describeNode(node)} is from the custom domain "${node.domain}"`);
    }
    const convert = OP_CONVERTERS[node.opType];
    if (!convert)
      throw new ConversionError(
        'unsupported_op',
        `unsupported op ${node.opType} (node "${node.name || node.outputs[0]}")`,
      );
    convert(ctx, node);
    options.onProgress?.({ done: i + 1, total: nodes.length });
  });

  const out = ctx.values.get(target);
  if (out?.kind !== 'tensor')
    throw new ConversionError('bad_feature_cut', `"${target}" does not depend on the input image`);
  const batchFirst = !isStatic(out.shape[0] as Dim);
  if (!batchFirst || out.shape.slice(1).some((d) => !isStatic(d))) {
    throw new ConversionError(
      'bad_feature_cut',
      `"${target}" has shape ${showShape(out.shape)}; a feature tensor is [batch, ...features]`,
    );
  }
  const featureDim = productOf(out.shape.slice(1), 'feature tensor') as number;
  const flat =
    out.shape.length === 2 ? out.ref : ctx.reshape(ctx.inLayout(out, 'plain'), [BATCH, featureDim], 'features/flatten');
  const features = builder.addNode('features', 'Identity', [flat], { T: attr.dtype('float32') });

  const norm = options.normalization ?? {};
  const metadata: PriorModelMetadata = {
    inputHeight: h,
    inputWidth: w,
    inputChannels: c,
    inputLayout: 'NHWC',
    pixelScale: norm.pixelScale ?? 1 / 255,
    mean: norm.mean ?? new Array<number>(c).fill(0),
    std: norm.std ?? new Array<number>(c).fill(1),
    featureTensor: target,
    featureDim,
    opset: model.opset,
    producer: model.producer,
  };
  const artifacts = builder.build({
    input: { node: placeholder.name, shape: [-1, h, w, c] },
    outputs: { features: features.name },
    metadata: { coopt: metadata },
    weightsPath: WEIGHTS_FILE,
  });
  return {
    artifacts,
    metadata,
    prunedNodes: model.nodes.length - nodes.length,
    onnxOutputs: model.outputs.map((o) => o.name),
  };
}
