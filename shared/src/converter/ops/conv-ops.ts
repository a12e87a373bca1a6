import { ConversionError, describeNode } from '../conversion-error.ts';
import { attrFloat, attrInt, attrInts, attrString, type ConvertContext, type TensorValue } from '../convert-context.ts';
import type { OnnxNode } from '../onnx-model.ts';
import { type Dim, isStatic } from '../symbolic-dim.ts';
import { type ConstTensor, transposeConst } from '../tensor-data.ts';
import { attr } from '../tf-graph-builder.ts';

interface Window {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, bottom, left, right], including any extension ceil_mode needs. */
  pads: [number, number, number, number];
  /** The pads as declared, before the ceil_mode extension. */
  declared: [number, number, number, number];
  out: [number, number];
}

function spatial(t: TensorValue, node: OnnxNode): [number, number] {
  const [, , h, w] = t.shape;
  if (t.shape.length !== 4 || !isStatic(h as Dim) || !isStatic(w as Dim)) {
    throw new ConversionError(
      'unsupported_op',
      `${describeNode(node)}: only 2-D convolutions and pools on static image sizes are supported`,
    );
  }
  return [h as number, w as number];
}

/** ONNX window attributes resolved to explicit pads and output sizes (auto_pad and ceil_mode included). */
function windowOf(node: OnnxNode, input: [number, number], kernel: [number, number]): Window {
  const strides = (attrInts(node, 'strides') ?? [1, 1]) as [number, number];
  const dilations = (attrInts(node, 'dilations') ?? [1, 1]) as [number, number];
  const onnxPads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  const pads: [number, number, number, number] = [
    onnxPads[0] ?? 0,
    onnxPads[2] ?? 0,
    onnxPads[1] ?? 0,
    onnxPads[3] ?? 0,
  ];
  const out: [number, number] = [0, 0];
  const declared: [number, number, number, number] = [...pads];
  for (const a of [0, 1] as const) {
    const size = input[a];
    const k = (kernel[a] - 1) * dilations[a] + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const o = Math.ceil(size / strides[a]);
      const total = Math.max((o - 1) * strides[a] + k - size, 0);
      const small = Math.floor(total / 2);
      pads[2 * a] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[2 * a + 1] = total - (pads[2 * a] as number);
    } else if (autoPad === 'VALID') {
      pads[2 * a] = 0;
      pads[2 * a + 1] = 0;
    }
    declared[2 * a] = pads[2 * a] as number;
    declared[2 * a + 1] = pads[2 * a + 1] as number;
    const span = size + (pads[2 * a] as number) + (pads[2 * a + 1] as number) - k;
    let o = (ceil ? Math.ceil(span / strides[a]) : Math.floor(span / strides[a])) + 1;
    // As in PyTorch, a ceil-mode window may not start inside the end padding.
    if (ceil && (o - 1) * strides[a] >= size + (pads[2 * a] as number)) o -= 1;
    const needed = (o - 1) * strides[a] + k - size - (pads[2 * a] as number);
    if (needed > (pads[2 * a + 1] as number)) pads[2 * a + 1] = needed;
    out[a] = o;
  }
  return { kernel, strides, dilations, pads, declared, out };
}

/** 'VALID' or 'SAME' where TF's own padding is exactly ONNX's; otherwise explicit pads. */
function tfPadding(w: Window, input: [number, number]): 'VALID' | 'SAME' | 'EXPLICIT' {
  if (w.pads.every((p) => p === 0)) return 'VALID';
  const same = [0, 1].every((a) => {
    const k = ((w.kernel[a] as number) - 1) * (w.dilations[a] as number) + 1;
    const o = Math.ceil((input[a] as number) / (w.strides[a] as number));
    const total = Math.max((o - 1) * (w.strides[a] as number) + k - (input[a] as number), 0);
    return (
      w.pads[2 * a] === Math.floor(total / 2) && w.pads[2 * a + 1] === total - Math.floor(total / 2) && o === w.out[a]
    );
  });
  return same ? 'SAME' : 'EXPLICIT';
}

function windowAttrs(w: Window, padding: string) {
  return {
    strides: attr.ints([1, w.strides[0], w.strides[1], 1]),
    dilations: attr.ints([1, w.dilations[0], w.dilations[1], 1]),
    padding: attr.str(padding),
    explicit_paddings: attr.ints(padding === 'EXPLICIT' ? [0, 0, ...w.pads, 0, 0] : []),
    data_format: attr.str('NHWC'),
  };
}

/** CoOpt priors' convolutions: plain, depthwise (group == channels) or grouped (split + concat). */
export function convertConv(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const weight = ctx.constOf(node, 1, 'the convolution weight');
  const biasValue = ctx.optional(node, 2);
  if (biasValue && biasValue.kind !== 'const')
    throw new ConversionError('unsupported_op', `${describeNode(node)}: a runtime bias is not supported`);
  if (weight.shape.length !== 4)
    throw new ConversionError('unsupported_op', `${describeNode(node)}: only 2-D convolutions are supported`);
  const [m, cPerGroup, kh, kw] = weight.shape as [number, number, number, number];
  const group = attrInt(node, 'group', 1);
  const channels = cPerGroup * group;
  const input = spatial(x, node);
  const w = windowOf(node, input, [kh, kw]);
  const padding = tfPadding(w, input);
  const bias: ConstTensor =
    biasValue?.kind === 'const' ? biasValue.value : { dtype: 'float32', shape: [m], data: new Float32Array(m) };
  const xRef = ctx.inLayout(x, 'nhwc');
  const outShape: Dim[] = [x.shape[0] as Dim, m, w.out[0], w.out[1]];

  const emit = (inRef: string, filter: ConstTensor, b: ConstTensor, depthwise: boolean, name: string) => {
    const filterConst = ctx.builder.addConst(`${name}/filter`, filter);
    const biasConst = ctx.builder.addConst(`${name}/bias`, b);
    const tfNode = ctx.builder.addNode(
      name,
      depthwise ? 'FusedDepthwiseConv2dNative' : '_FusedConv2D',
      [inRef, filterConst, biasConst],
      {
        T: attr.dtype('float32'),
        ...windowAttrs(w, padding),
        fused_ops: attr.strs(['BiasAdd']),
        num_args: attr.int(1),
        epsilon: attr.float(0),
      },
    );
    ctx.fusable.set(tfNode.name, {
      node: tfNode,
      filterConst,
      biasConst,
      kind: depthwise ? 'depthwise' : 'conv',
      activated: false,
    });
    return tfNode.name;
  };

  let ref: string;
  if (group === 1) {
    ref = emit(xRef, transposeConst(weight, [2, 3, 1, 0]), bias, false, node.name || 'conv');
  } else if (cPerGroup === 1 && m % group === 0) {
    // Depthwise: ONNX [C*mult, 1, kh, kw] -> TF [kh, kw, C, mult].
    const mult = m / group;
    const filter = transposeConst({ ...weight, shape: [group, mult, kh, kw] }, [2, 3, 0, 1]);
    ref = emit(xRef, filter, bias, true, node.name || 'dwconv');
  } else {
    const perGroupOut = m / group;
    const sizes = ctx.builder.addConst(`${node.name}/split_sizes`, {
      dtype: 'int32',
      shape: [group],
      data: new Int32Array(group).fill(cPerGroup),
    });
    const axis = ctx.builder.addConst(`${node.name}/split_axis`, { dtype: 'int32', shape: [], data: Int32Array.of(3) });
    const split = ctx.builder.addNode(`${node.name}/split`, 'SplitV', [xRef, sizes, axis], {
      T: attr.dtype('float32'),
      num_split: attr.int(group),
    });
    const outs: string[] = [];
    const per = perGroupOut * cPerGroup * kh * kw;
    for (let g = 0; g < group; g++) {
      const wg: ConstTensor = {
        dtype: 'float32',
        shape: [perGroupOut, cPerGroup, kh, kw],
        data: weight.data.slice(g * per, (g + 1) * per),
      };
      const bg: ConstTensor = {
        dtype: 'float32',
        shape: [perGroupOut],
        data: bias.data.slice(g * perGroupOut, (g + 1) * perGroupOut),
      };
      outs.push(
        emit(
          g === 0 ? split.name : `${split.name}:${g}`,
          transposeConst(wg, [2, 3, 1, 0]),
          bg,
          false,
          `${node.name}/group${g}`,
        ),
      );
    }
    const concatAxis = ctx.builder.addConst(`${node.name}/concat_axis`, {
      dtype: 'int32',
      shape: [],
      data: Int32Array.of(3),
    });
    ref = ctx.builder.addNode(node.name, 'ConcatV2', [...outs, concatAxis], {
      T: attr.dtype('float32'),
      N: attr.int(group),
      Tidx: attr.dtype('int32'),
    }).name;
  }
  if (channels !== x.shape[1]) {
    throw new ConversionError(
      'malformed',
      `${describeNode(node)}: weight expects ${channels} input channels, input has ${String(x.shape[1])}`,
    );
  }
  ctx.set(node.outputs[0], { kind: 'tensor', ref, shape: outShape, layout: 'nhwc', dtype: 'float32' });
}

/** Folds into the convolution before it when that is its only consumer; otherwise scale and shift. */
export function convertBatchNorm(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const [scale, shift, mean, variance] = [1, 2, 3, 4].map((i) =>
    ctx.constOf(node, i, 'batch-norm statistics'),
  ) as ConstTensor[];
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const c = (scale as ConstTensor).data.length;
  const s = new Float32Array(c);
  const t = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    s[i] = (scale?.data[i] as number) / Math.sqrt((variance?.data[i] as number) + eps);
    t[i] = (shift?.data[i] as number) - (mean?.data[i] as number) * (s[i] as number);
  }
  const fused = ctx.fusable.get(x.ref);
  if (fused && !fused.activated && fused.kind !== 'matmul' && ctx.uses(node.inputs[0] ?? '') === 1) {
    const filter = ctx.builder.consts.get(fused.filterConst) as ConstTensor;
    const bias = ctx.builder.consts.get(fused.biasConst) as ConstTensor;
    // Output channels are innermost in both HWIO and depthwise [kh, kw, C, mult] filters (m = c * mult + k).
    for (let i = 0; i < filter.data.length; i++) filter.data[i] = (filter.data[i] as number) * (s[i % c] as number);
    for (let i = 0; i < c; i++) bias.data[i] = (bias.data[i] as number) * (s[i] as number) + (t[i] as number);
    ctx.set(node.outputs[0], x);
    return;
  }
  const rank = x.shape.length;
  const layout = rank === 4 ? 'nhwc' : 'plain';
  const ref = rank === 4 ? ctx.inLayout(x, 'nhwc') : x.ref;
  const shape = rank === 3 ? [c, 1] : [c];
  const mul = ctx.builder.addNode(
    `${node.name}/scale`,
    'Mul',
    [ref, ctx.builder.addConst(`${node.name}/s`, { dtype: 'float32', shape, data: s })],
    { T: attr.dtype('float32') },
  );
  const add = ctx.builder.addNode(
    node.name,
    'AddV2',
    [mul.name, ctx.builder.addConst(`${node.name}/t`, { dtype: 'float32', shape, data: t })],
    { T: attr.dtype('float32') },
  );
  ctx.set(node.outputs[0], { ...x, ref: add.name, layout });
}

const FLOAT_LOWEST = -3.4028234663852886e38;

export function convertPool(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const input = spatial(x, node);
  const kernel = attrInts(node, 'kernel_shape') as [number, number] | null;
  if (kernel?.length !== 2)
    throw new ConversionError('unsupported_op', `${describeNode(node)}: only 2-D pooling is supported`);
  const w = windowOf(node, input, kernel);
  if (w.dilations.some((d) => d !== 1))
    throw new ConversionError('unsupported_op', `${describeNode(node)}: dilated pooling is not supported`);
  const isMax = node.opType === 'MaxPool';
  const includePad = attrInt(node, 'count_include_pad', 0) === 1;
  let padding = tfPadding(w, input);
  // TF's SAME average pool never counts padding, so with count_include_pad it must go explicit.
  if (padding === 'SAME' && !isMax && includePad) padding = 'EXPLICIT';
  let ref = ctx.inLayout(x, 'nhwc');
  if (padding === 'EXPLICIT') {
    const pads = ctx.builder.addConst(`${node.name}/pads`, {
      dtype: 'int32',
      shape: [4, 2],
      data: Int32Array.from([0, 0, ...w.pads, 0, 0]),
    });
    const fill = ctx.builder.addConst(`${node.name}/pad_value`, {
      dtype: 'float32',
      shape: [],
      data: Float32Array.of(isMax ? FLOAT_LOWEST : 0),
    });
    ref = ctx.builder.addNode(`${node.name}/pad`, 'PadV2', [ref, pads, fill], {
      T: attr.dtype('float32'),
      Tpaddings: attr.dtype('int32'),
    }).name;
  }
  const pool = ctx.builder.addNode(node.name, isMax ? 'MaxPool' : 'AvgPool', [ref], {
    T: attr.dtype('float32'),
    ksize: attr.ints([1, kernel[0], kernel[1], 1]),
    strides: attr.ints([1, w.strides[0], w.strides[1], 1]),
    padding: attr.str(padding === 'EXPLICIT' ? 'VALID' : padding),
    data_format: attr.str('NHWC'),
  });
  ref = pool.name;
  if (padding === 'EXPLICIT' && !isMax) {
    // Undo the zero padding's share of each average: multiply by window size / counted elements.
    const [oh, ow] = w.out;
    const corr = new Float32Array(oh * ow);
    const counted = (o: number, a: 0 | 1) => {
      const before = w.pads[2 * a] as number;
      const start = o * w.strides[a] - before;
      const lo = includePad ? -before : 0;
      const hi = includePad ? input[a] + (w.declared[2 * a + 1] as number) : input[a];
      return Math.max(0, Math.min(start + kernel[a], hi) - Math.max(start, lo));
    };
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        corr[i * ow + j] = (kernel[0] * kernel[1]) / Math.max(1, counted(i, 0) * counted(j, 1));
    const c = ctx.builder.addConst(`${node.name}/count`, { dtype: 'float32', shape: [oh, ow, 1], data: corr });
    ref = ctx.builder.addNode(`${node.name}/rescale`, 'Mul', [ref, c], { T: attr.dtype('float32') }).name;
  }
  ctx.set(node.outputs[0], {
    kind: 'tensor',
    ref,
    shape: [x.shape[0] as Dim, x.shape[1] as Dim, w.out[0], w.out[1]],
    layout: 'nhwc',
    dtype: 'float32',
  });
}

export function convertGlobalPool(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  spatial(x, node);
  const axes = ctx.builder.addConst(`${node.name}/axes`, { dtype: 'int32', shape: [2], data: Int32Array.of(1, 2) });
  const op = node.opType === 'GlobalMaxPool' ? 'Max' : 'Mean';
  const ref = ctx.builder.addNode(node.name, op, [ctx.inLayout(x, 'nhwc'), axes], {
    T: attr.dtype('float32'),
    Tidx: attr.dtype('int32'),
    keep_dims: attr.bool(true),
  }).name;
  ctx.set(node.outputs[0], {
    kind: 'tensor',
    ref,
    shape: [x.shape[0] as Dim, x.shape[1] as Dim, 1, 1],
    layout: 'nhwc',
    dtype: 'float32',
  });
}
