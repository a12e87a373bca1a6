import { ConversionError, describeNode } from '../conversion-error.ts';
import {
  attrInt,
  attrInts,
  attrString,
  axisOf,
  type ConvertContext,
  physicalAxis,
  type TensorValue,
  TO_NHWC,
  type Value,
} from '../convert-context.ts';
import type { OnnxNode } from '../onnx-model.ts';
import { type Dim, divDims, isStatic, productOf, show, showShape } from '../symbolic-dim.ts';
import { type ConstTensor, decodeTensor, sizeOf, stridesOf, transposeConst } from '../tensor-data.ts';
import { attr } from '../tf-graph-builder.ts';

const ints = (v: number[]): ConstTensor => ({ dtype: 'int32', shape: [v.length], data: Int32Array.from(v) });

/** An integer vector (or scalar) known at conversion time, possibly holding batch multiples. */
function dimList(v: Value): Dim[] | null {
  if (v.kind === 'sym') return v.dims;
  if (v.kind === 'const' && v.value.dtype !== 'float32' && v.value.shape.length <= 1) return Array.from(v.value.data);
  return null;
}

function dimsValue(dims: Dim[], shape: number[]): Value {
  return dims.every(isStatic)
    ? { kind: 'const', value: { dtype: 'int32', shape, data: Int32Array.from(dims) } }
    : { kind: 'sym', shape, dims };
}

/** Axes from the attribute (older opsets) or the second input (newer ones). */
function axesOf(ctx: ConvertContext, node: OnnxNode, inputIndex: number): number[] | null {
  const fromAttr = attrInts(node, 'axes');
  if (fromAttr) return fromAttr;
  if (ctx.optional(node, inputIndex)) return Array.from(ctx.constOf(node, inputIndex, 'the axes').data);
  return null;
}

/** The node's `axis` attribute on a tensor, which must not be the (dynamic) batch axis. */
function staticAxis(node: OnnxNode, x: TensorValue, doing: string): { axis: number; size: number } {
  const axis = axisOf(attrInt(node, 'axis', 0), x.shape.length, node);
  const size = x.shape[axis] as Dim;
  if (!isStatic(size)) {
    throw new ConversionError('dynamic_shape', `${describeNode(node)}: ${doing} along the batch axis is not supported`);
  }
  return { axis, size };
}

export function convertConstant(ctx: ConvertContext, node: OnnxNode): void {
  const a =
    node.attributes.get('value') ??
    node.attributes.get('value_float') ??
    node.attributes.get('value_floats') ??
    node.attributes.get('value_int') ??
    node.attributes.get('value_ints');
  let c: ConstTensor;
  if (a?.kind === 'tensor') c = decodeTensor(a.value);
  else if (a?.kind === 'float') c = { dtype: 'float32', shape: [], data: Float32Array.of(a.value) };
  else if (a?.kind === 'floats') c = { dtype: 'float32', shape: [a.value.length], data: Float32Array.from(a.value) };
  else if (a?.kind === 'int') c = { dtype: 'int32', shape: [], data: Int32Array.of(a.value) };
  else if (a?.kind === 'ints') c = ints(a.value);
  else throw new ConversionError('unsupported_op', `${describeNode(node)}: this kind of Constant is not supported`);
  ctx.set(node.outputs[0], { kind: 'const', value: c });
}

export function convertShape(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  const dims: Dim[] = v.kind === 'const' ? v.value.shape : v.kind === 'sym' ? v.shape : v.shape;
  const rank = dims.length;
  const start = attrInt(node, 'start', 0);
  const end = attrInt(node, 'end', rank);
  const s = Math.max(0, Math.min(rank, start < 0 ? start + rank : start));
  const e = Math.max(0, Math.min(rank, end < 0 ? end + rank : end));
  const out = dims.slice(s, e);
  ctx.set(node.outputs[0], dimsValue(out, [out.length]));
}

export function convertGather(ctx: ConvertContext, node: OnnxNode): void {
  const data = ctx.get(node.inputs[0] ?? '', node);
  const indices = ctx.constOf(node, 1, 'the gather indices');
  const list = dimList(data);
  if (list && data.kind !== 'tensor') {
    const n = list.length;
    const picked = Array.from(indices.data, (i) => list[i < 0 ? i + n : i] as Dim);
    ctx.set(node.outputs[0], dimsValue(picked, indices.shape));
    return;
  }
  const x = ctx.tensor(data, `${node.name}/data`);
  const { axis, size } = staticAxis(node, x, 'gathering');
  const idx = ctx.builder.addConst(`${node.name}/indices`, {
    ...indices,
    data: indices.data.map((i) => (i < 0 ? i + size : i)) as Int32Array,
    dtype: 'int32',
  });
  const ax = ctx.builder.addConst(`${node.name}/axis`, { dtype: 'int32', shape: [], data: Int32Array.of(axis) });
  const ref = ctx.builder.addNode(node.name, 'GatherV2', [ctx.inLayout(x, 'plain'), idx, ax], {
    Tparams: attr.dtype(x.dtype),
    Tindices: attr.dtype('int32'),
    Taxis: attr.dtype('int32'),
    batch_dims: attr.int(0),
  }).name;
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  ctx.set(node.outputs[0], { kind: 'tensor', ref, shape, layout: 'plain', dtype: x.dtype });
}

/** Any value reshaped to new logical dims: folded for constants and shape values, a Reshape otherwise. */
function reshapeValue(ctx: ConvertContext, node: OnnxNode, v: Value, dims: Dim[]): Value {
  if (v.kind === 'const') {
    if (!dims.every(isStatic))
      throw new ConversionError('dynamic_shape', `${describeNode(node)}: constant reshaped to ${showShape(dims)}`);
    return { kind: 'const', value: { ...v.value, shape: dims } };
  }
  if (v.kind === 'sym') {
    if (!dims.every(isStatic) || sizeOf(dims) !== v.dims.length)
      throw new ConversionError('dynamic_shape', `${describeNode(node)}: cannot reshape a shape value`);
    return { kind: 'sym', shape: dims, dims: v.dims };
  }
  // Where at most one of C, H, W exceeds 1, NCHW and NHWC hold the same element order: no transpose needed.
  const [, c, h, w] = v.shape;
  const sameOrder = v.layout === 'nhwc' && [c, h, w].filter((d) => d !== 1).length <= 1;
  const src = sameOrder ? v.ref : ctx.inLayout(v, 'plain');
  return { kind: 'tensor', ref: ctx.reshape(src, dims, node.name), shape: dims, layout: 'plain', dtype: v.dtype };
}

export function convertUnsqueeze(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  const shape: Dim[] = v.kind === 'tensor' ? v.shape : v.kind === 'const' ? v.value.shape : v.shape;
  const axes = axesOf(ctx, node, 1) ?? [];
  const rank = shape.length + axes.length;
  const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  const out = [...shape];
  for (const a of norm) out.splice(a, 0, 1);
  ctx.set(node.outputs[0], reshapeValue(ctx, node, v, out));
}

export function convertSqueeze(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  const shape: Dim[] = v.kind === 'tensor' ? v.shape : v.kind === 'const' ? v.value.shape : v.shape;
  const axes = axesOf(ctx, node, 1)?.map((a) => axisOf(a, shape.length, node));
  const out = shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
  ctx.set(node.outputs[0], reshapeValue(ctx, node, v, out));
}

export function convertReshape(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  const target = dimList(ctx.get(node.inputs[1] ?? '', node));
  if (!target)
    throw new ConversionError(
      'dynamic_shape',
      `${describeNode(node)}: the target shape cannot be resolved at conversion time`,
    );
  const inShape: Dim[] = v.kind === 'tensor' ? v.shape : v.kind === 'const' ? v.value.shape : v.shape;
  const allowZero = attrInt(node, 'allowzero', 0) === 1;
  const out = target.map((d, i) => (d === 0 && !allowZero ? (inShape[i] as Dim) : d));
  const inferred = out.indexOf(-1);
  if (inferred !== -1) {
    const known = productOf(
      out.filter((_, i) => i !== inferred),
      describeNode(node),
    );
    out[inferred] = divDims(productOf(inShape, describeNode(node)), known, describeNode(node));
  }
  ctx.set(node.outputs[0], reshapeValue(ctx, node, v, out));
}

export function convertFlatten(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  const shape: Dim[] = v.kind === 'tensor' ? v.shape : v.kind === 'const' ? v.value.shape : v.shape;
  const axis = attrInt(node, 'axis', 1);
  const a = axis < 0 ? axis + shape.length : axis;
  const where = describeNode(node);
  ctx.set(
    node.outputs[0],
    reshapeValue(ctx, node, v, [productOf(shape.slice(0, a), where), productOf(shape.slice(a), where)]),
  );
}

export function convertTranspose(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  const rank = v.kind === 'const' ? v.value.shape.length : v.shape.length;
  const perm = attrInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (v.kind === 'const') {
    ctx.set(node.outputs[0], { kind: 'const', value: transposeConst(v.value, perm) });
    return;
  }
  const x = ctx.tensor(v, node.name);
  // From NHWC storage, one transpose straight to the requested logical order.
  const physical = x.layout === 'nhwc' && rank === 4 ? perm.map((p) => physicalAxis(x, p)) : perm;
  const ref = ctx.transpose(x.ref, physical, node.name);
  ctx.set(node.outputs[0], {
    kind: 'tensor',
    ref,
    shape: perm.map((p) => x.shape[p] as Dim),
    layout: 'plain',
    dtype: x.dtype,
  });
}

function concatConst(parts: ConstTensor[], axis: number): ConstTensor {
  const first = parts[0] as ConstTensor;
  const shape = [...first.shape];
  shape[axis] = parts.reduce((s, p) => s + (p.shape[axis] as number), 0);
  const outer = sizeOf(first.shape.slice(0, axis));
  const data = first.dtype === 'float32' ? new Float32Array(sizeOf(shape)) : new Int32Array(sizeOf(shape));
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (const p of parts) {
      const chunk = sizeOf(p.shape.slice(axis));
      data.set(p.data.subarray(i * chunk, (i + 1) * chunk), o);
      o += chunk;
    }
  }
  return { dtype: first.dtype, shape, data };
}

export function convertConcat(ctx: ConvertContext, node: OnnxNode): void {
  const values = node.inputs.map((n) => ctx.get(n, node));
  const rank = values.map((v) => (v.kind === 'const' ? v.value.shape.length : v.shape.length))[0] ?? 1;
  const axis = axisOf(attrInt(node, 'axis', 0), rank, node);
  if (values.every((v) => v.kind === 'const')) {
    ctx.set(node.outputs[0], {
      kind: 'const',
      value: concatConst(
        values.map((v) => (v as { value: ConstTensor }).value),
        axis,
      ),
    });
    return;
  }
  if (values.every((v) => v.kind !== 'tensor' && dimList(v))) {
    const dims = values.flatMap((v) => dimList(v) as Dim[]);
    ctx.set(node.outputs[0], dimsValue(dims, [dims.length]));
    return;
  }
  const nhwc = rank === 4 && values.some((v) => v.kind === 'tensor' && v.layout === 'nhwc');
  const shapes = values.map((v) => (v.kind === 'const' ? v.value.shape : v.shape));
  const refs = values.map((v, i) => {
    if (v.kind === 'const')
      return ctx.builder.addConst(`${node.name}/c${i}`, nhwc ? transposeConst(v.value, TO_NHWC) : v.value);
    const t = ctx.tensor(v, `${node.name}/in${i}`);
    return rank === 4 ? ctx.inLayout(t, nhwc ? 'nhwc' : 'plain') : t.ref;
  });
  const shape = [...(shapes[0] as Dim[])];
  shape[axis] = shapes.reduce<Dim>((s, sh) => {
    const d = sh[axis] as Dim;
    if (!isStatic(s) || !isStatic(d))
      throw new ConversionError('dynamic_shape', `${describeNode(node)}: concatenating along the batch axis`);
    return s + d;
  }, 0);
  const tfAxis = nhwc ? [0, 3, 1, 2][axis] : axis;
  const ax = ctx.builder.addConst(`${node.name}/axis`, {
    dtype: 'int32',
    shape: [],
    data: Int32Array.of(tfAxis as number),
  });
  const dtype = (values.find((v) => v.kind === 'tensor') as TensorValue).dtype;
  const ref = ctx.builder.addNode(node.name, 'ConcatV2', [...refs, ax], {
    T: attr.dtype(dtype),
    N: attr.int(refs.length),
    Tidx: attr.dtype('int32'),
  }).name;
  ctx.set(node.outputs[0], { kind: 'tensor', ref, shape, layout: nhwc ? 'nhwc' : 'plain', dtype });
}

interface SliceAxis {
  axis: number;
  start: number;
  end: number;
  step: number;
}

function sliceParams(ctx: ConvertContext, node: OnnxNode, rank: number): SliceAxis[] {
  const get = (i: number, name: string) =>
    ctx.opset < 10
      ? attrInts(node, name)
      : ctx.optional(node, i)
        ? Array.from(ctx.constOf(node, i, `the slice ${name}`).data)
        : null;
  const starts = get(1, 'starts') ?? [];
  const ends = get(2, 'ends') ?? [];
  const axes = get(3, 'axes') ?? starts.map((_, i) => i);
  const steps = get(4, 'steps') ?? starts.map(() => 1);
  return axes.map((a, i) => ({
    axis: axisOf(a, rank, node),
    start: starts[i] as number,
    end: ends[i] as number,
    step: steps[i] as number,
  }));
}

/** Python-style clamping of one axis's slice, as ONNX defines it. */
function clampSlice(s: SliceAxis, dim: number): { begin: number; end: number; size: number; toStart: boolean } {
  const norm = (v: number) => (v < 0 ? v + dim : v);
  if (s.step > 0) {
    const begin = Math.max(0, Math.min(dim, norm(s.start)));
    const end = Math.max(0, Math.min(dim, norm(s.end)));
    return { begin, end, size: Math.max(0, Math.ceil((end - begin) / s.step)), toStart: false };
  }
  const begin = Math.max(-1, Math.min(dim - 1, norm(s.start)));
  const end = Math.max(-1, Math.min(dim - 1, norm(s.end)));
  return { begin, end, size: Math.max(0, Math.ceil((end - begin) / s.step)), toStart: end < 0 };
}

/** Slices a constant of any rank at conversion time. */
function sliceConst(c: ConstTensor, params: SliceAxis[]): ConstTensor {
  const ranges = c.shape.map((d) => ({ begin: 0, step: 1, size: d }));
  for (const s of params) {
    const cl = clampSlice(s, c.shape[s.axis] as number);
    ranges[s.axis] = { begin: cl.begin, step: s.step, size: cl.size };
  }
  const shape = ranges.map((r) => r.size);
  const inStrides = stridesOf(c.shape);
  const outStrides = stridesOf(shape);
  const n = sizeOf(shape);
  const data = c.dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  for (let o = 0; o < n; o++) {
    let rem = o;
    let src = 0;
    for (let d = 0; d < shape.length; d++) {
      const i = Math.floor(rem / (outStrides[d] as number));
      rem -= i * (outStrides[d] as number);
      const r = ranges[d] as { begin: number; step: number };
      src += (r.begin + i * r.step) * (inStrides[d] as number);
    }
    data[o] = c.data[src] as number;
  }
  return { dtype: c.dtype, shape, data };
}

export function convertSlice(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  if (v.kind === 'const') {
    ctx.set(node.outputs[0], {
      kind: 'const',
      value: sliceConst(v.value, sliceParams(ctx, node, v.value.shape.length)),
    });
    return;
  }
  const list = v.kind === 'sym' ? dimList(v) : null;
  if (list) {
    const [s] = sliceParams(ctx, node, 1);
    if (!s) throw new ConversionError('malformed', `${describeNode(node)}: no slice given`);
    const c = clampSlice(s, list.length);
    const picked: Dim[] = [];
    for (let i = c.begin; s.step > 0 ? i < c.end : i > c.end; i += s.step) picked.push(list[i] as Dim);
    ctx.set(node.outputs[0], dimsValue(picked, [picked.length]));
    return;
  }
  const x = ctx.tensor(v, `${node.name}/data`);
  const rank = x.shape.length;
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  const strides = new Array<number>(rank).fill(1);
  let beginMask = 0;
  let endMask = 0;
  const shape = [...x.shape];
  for (let d = 0; d < rank; d++) {
    beginMask |= 1 << d;
    endMask |= 1 << d;
  }
  for (const s of sliceParams(ctx, node, rank)) {
    const dim = x.shape[s.axis] as Dim;
    if (!isStatic(dim))
      throw new ConversionError(
        'dynamic_shape',
        `${describeNode(node)}: slicing along the batch axis is not supported`,
      );
    const c = clampSlice(s, dim);
    const p = physicalAxis(x, s.axis);
    begin[p] = c.begin;
    end[p] = c.end;
    strides[p] = s.step;
    beginMask &= ~(1 << p);
    if (!c.toStart) endMask &= ~(1 << p);
    shape[s.axis] = c.size;
  }
  const k = (name: string, v: number[]) => ctx.builder.addConst(`${node.name}/${name}`, ints(v));
  const ref = ctx.builder.addNode(
    node.name,
    'StridedSlice',
    [x.ref, k('begin', begin), k('end', end), k('strides', strides)],
    {
      T: attr.dtype(x.dtype),
      Index: attr.dtype('int32'),
      begin_mask: attr.int(beginMask),
      end_mask: attr.int(endMask),
      ellipsis_mask: attr.int(0),
      new_axis_mask: attr.int(0),
      shrink_axis_mask: attr.int(0),
    },
  ).name;
  ctx.set(node.outputs[0], { ...x, ref, shape });
}

export function convertSplit(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const { axis, size: dim } = staticAxis(node, x, 'splitting');
  const n = node.outputs.length;
  const given =
    attrInts(node, 'split') ??
    (ctx.opset >= 13 && ctx.optional(node, 1) ? Array.from(ctx.constOf(node, 1, 'the split sizes').data) : null);
  const sizes =
    given ?? new Array<number>(n).fill(Math.ceil(dim / n)).map((s, i) => (i === n - 1 ? dim - s * (n - 1) : s));
  const sizeConst = ctx.builder.addConst(`${node.name}/sizes`, ints(sizes));
  const ax = ctx.builder.addConst(`${node.name}/axis`, {
    dtype: 'int32',
    shape: [],
    data: Int32Array.of(physicalAxis(x, axis)),
  });
  const split = ctx.builder.addNode(node.name, 'SplitV', [x.ref, sizeConst, ax], {
    T: attr.dtype(x.dtype),
    Tlen: attr.dtype('int32'),
    num_split: attr.int(n),
  });
  node.outputs.forEach((out, i) => {
    const shape = [...x.shape];
    shape[axis] = sizes[i] as number;
    ctx.set(out, { ...x, ref: i === 0 ? split.name : `${split.name}:${i}`, shape });
  });
}

export function convertPad(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const rank = x.shape.length;
  const pads = ctx.opset < 11 ? (attrInts(node, 'pads') ?? []) : Array.from(ctx.constOf(node, 1, 'the pads').data);
  const axes =
    ctx.opset >= 18 && ctx.optional(node, 3)
      ? Array.from(ctx.constOf(node, 3, 'the pad axes').data)
      : Array.from({ length: rank }, (_, i) => i);
  const value =
    ctx.opset >= 11 && ctx.optional(node, 2) ? (ctx.constOf(node, 2, 'the pad value').data[0] as number) : 0;
  const mode = attrString(node, 'mode', 'constant');
  const paddings = new Array<number>(2 * rank).fill(0);
  const shape = [...x.shape];
  axes.forEach((a, i) => {
    const axis = axisOf(a, rank, node);
    const p = physicalAxis(x, axis);
    const before = pads[i] as number;
    const after = pads[i + axes.length] as number;
    if (before < 0 || after < 0)
      throw new ConversionError('unsupported_op', `${describeNode(node)}: negative pads are not supported`);
    paddings[2 * p] = before;
    paddings[2 * p + 1] = after;
    const d = shape[axis] as Dim;
    if (!isStatic(d) && before + after > 0)
      throw new ConversionError('dynamic_shape', `${describeNode(node)}: padding the batch axis`);
    if (isStatic(d)) shape[axis] = d + before + after;
  });
  const padConst = ctx.builder.addConst(`${node.name}/paddings`, {
    dtype: 'int32',
    shape: [rank, 2],
    data: Int32Array.from(paddings),
  });
  let ref: string;
  if (mode === 'constant') {
    const fill = ctx.builder.addConst(`${node.name}/value`, {
      dtype: 'float32',
      shape: [],
      data: Float32Array.of(value),
    });
    ref = ctx.builder.addNode(node.name, 'PadV2', [x.ref, padConst, fill], {
      T: attr.dtype('float32'),
      Tpaddings: attr.dtype('int32'),
    }).name;
  } else if (mode === 'reflect') {
    ref = ctx.builder.addNode(node.name, 'MirrorPad', [x.ref, padConst], {
      T: attr.dtype('float32'),
      Tpaddings: attr.dtype('int32'),
      mode: attr.str('REFLECT'),
    }).name;
  } else {
    throw new ConversionError('unsupported_op', `${describeNode(node)}: pad mode "${mode}" is not supported`);
  }
  ctx.set(node.outputs[0], { ...x, ref, shape });
}

export function convertConstantOfShape(ctx: ConvertContext, node: OnnxNode): void {
  const dims = dimList(ctx.get(node.inputs[0] ?? '', node));
  if (!dims?.every(isStatic))
    throw new ConversionError('dynamic_shape', `${describeNode(node)}: the shape must be known at conversion time`);
  const v = node.attributes.get('value');
  const fill =
    v?.kind === 'tensor' ? decodeTensor(v.value) : { dtype: 'float32' as const, shape: [1], data: Float32Array.of(0) };
  const n = sizeOf(dims);
  const data =
    fill.dtype === 'float32' ? new Float32Array(n).fill(fill.data[0] ?? 0) : new Int32Array(n).fill(fill.data[0] ?? 0);
  ctx.set(node.outputs[0], { kind: 'const', value: { dtype: fill.dtype, shape: dims, data } });
}

export function convertWhere(ctx: ConvertContext, node: OnnxNode): void {
  const [cond, a, b] = [0, 1, 2].map((i) => dimList(ctx.get(node.inputs[i] ?? '', node)));
  if (!cond || !a || !b)
    throw new ConversionError('unsupported_op', `${describeNode(node)}: Where on run-time tensors is not supported`);
  const n = Math.max(cond.length, a.length, b.length);
  const at = (l: Dim[], i: number) => (l.length === 1 ? (l[0] as Dim) : (l[i] as Dim));
  const out = Array.from({ length: n }, (_, i) => (at(cond, i) ? at(a, i) : at(b, i)));
  ctx.set(node.outputs[0], dimsValue(out, [n]));
}

export function convertExpand(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  const target = dimList(ctx.get(node.inputs[1] ?? '', node));
  if (!target) throw new ConversionError('dynamic_shape', `${describeNode(node)}: the target shape cannot be resolved`);
  const inShape: Dim[] = v.kind === 'const' ? v.value.shape : v.shape;
  const rank = Math.max(inShape.length, target.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const a = inShape[inShape.length - rank + i] ?? 1;
    const t = target[target.length - rank + i] ?? 1;
    out.push(t === 1 ? a : t);
  }
  if (out.every((d, i) => show(d) === show(inShape[inShape.length - rank + i] ?? 1)) && inShape.length === rank) {
    ctx.set(node.outputs[0], v);
    return;
  }
  const x = ctx.tensor(v, `${node.name}/data`);
  const shapeRef = ctx.tensor(dimsValue(out, [out.length]), `${node.name}/shape`).ref;
  const ref = ctx.builder.addNode(node.name, 'BroadcastTo', [ctx.inLayout(x, 'plain'), shapeRef], {
    T: attr.dtype(x.dtype),
    Tidx: attr.dtype('int32'),
  }).name;
  ctx.set(node.outputs[0], { kind: 'tensor', ref, shape: out, layout: 'plain', dtype: x.dtype });
}
