import { ConversionError, describeNode } from '../conversion-error.ts';
import {
  attrFloat,
  attrInt,
  attrInts,
  axisOf,
  type ConvertContext,
  NHWC_AXIS,
  type TensorValue,
} from '../convert-context.ts';
import type { OnnxNode } from '../onnx-model.ts';
import type { Dim } from '../symbolic-dim.ts';
import { attr } from '../tf-graph-builder.ts';

const TF_REDUCE: Record<string, string> = { ReduceMean: 'Mean', ReduceSum: 'Sum', ReduceMax: 'Max' };

function reduce(
  ctx: ConvertContext,
  name: string,
  op: string,
  x: TensorValue,
  axes: number[],
  keep: boolean,
): TensorValue {
  const rank = x.shape.length;
  const nhwc = x.layout === 'nhwc' && rank === 4;
  const physical = axes.map((a) => (nhwc ? (NHWC_AXIS[a] as number) : a));
  const axesConst = ctx.builder.addConst(`${name}/axes`, {
    dtype: 'int32',
    shape: [physical.length],
    data: Int32Array.from(physical),
  });
  let ref = ctx.builder.addNode(name, op, [x.ref, axesConst], {
    T: attr.dtype('float32'),
    Tidx: attr.dtype('int32'),
    keep_dims: attr.bool(keep),
  }).name;
  const shape: Dim[] = keep
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  if (keep || !nhwc) return { kind: 'tensor', ref, shape, layout: nhwc ? 'nhwc' : 'plain', dtype: 'float32' };
  // Without keepdims, the remaining NHWC axes may be out of logical order (C before H or W kept).
  const remainingPhysical = [0, 1, 2, 3].filter((p) => !physical.includes(p));
  const logicalOf = (p: number) => NHWC_AXIS.indexOf(p);
  const order = remainingPhysical.map(logicalOf);
  const sorted = [...order].sort((a, b) => a - b);
  if (order.some((o, i) => o !== sorted[i]))
    ref = ctx.transpose(
      ref,
      sorted.map((o) => order.indexOf(o)),
      `${name}/order`,
    );
  return { kind: 'tensor', ref, shape, layout: 'plain', dtype: 'float32' };
}

export function convertReduce(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const rank = x.shape.length;
  const given =
    attrInts(node, 'axes') ?? (ctx.optional(node, 1) ? Array.from(ctx.constOf(node, 1, 'the axes').data) : null);
  const axes = (given ?? Array.from({ length: rank }, (_, i) => i)).map((a) => axisOf(a, rank, node));
  if (axes.includes(0))
    throw new ConversionError('unsupported_op', `${describeNode(node)}: reducing over the batch axis is not supported`);
  ctx.set(
    node.outputs[0],
    reduce(ctx, node.name, TF_REDUCE[node.opType] as string, x, axes, attrInt(node, 'keepdims', 1) === 1),
  );
}

/** TF's Softmax works on the last axis; another axis is moved there and back. */
export function convertSoftmax(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const rank = x.shape.length;
  const axis = axisOf(attrInt(node, 'axis', ctx.opset >= 13 ? -1 : 1), rank, node);
  if (ctx.opset < 13 && axis !== rank - 1) {
    throw new ConversionError(
      'unsupported_op',
      `${describeNode(node)}: Softmax before opset 13 is supported on the last axis only`,
    );
  }
  const physicalLast = x.layout === 'nhwc' && rank === 4 ? NHWC_AXIS[axis] === 3 : axis === rank - 1;
  if (physicalLast) {
    const ref = ctx.builder.addNode(node.name, 'Softmax', [x.ref], { T: attr.dtype('float32') }).name;
    ctx.set(node.outputs[0], { ...x, ref });
    return;
  }
  const plain = ctx.inLayout(x, 'plain');
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[axis] = rank - 1;
  perm[rank - 1] = axis;
  const moved = ctx.transpose(plain, perm, `${node.name}/move`);
  const soft = ctx.builder.addNode(`${node.name}/softmax`, 'Softmax', [moved], { T: attr.dtype('float32') }).name;
  ctx.set(node.outputs[0], {
    kind: 'tensor',
    ref: ctx.transpose(soft, perm, node.name),
    shape: x.shape,
    layout: 'plain',
    dtype: 'float32',
  });
}

/** LayerNormalization (opset 17) as mean/variance over the trailing axes, then scale and shift. */
export function convertLayerNorm(ctx: ConvertContext, node: OnnxNode): void {
  const x0 = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const x: TensorValue = x0.shape.length === 4 ? { ...x0, ref: ctx.inLayout(x0, 'plain'), layout: 'plain' } : x0;
  const rank = x.shape.length;
  const axis = axisOf(attrInt(node, 'axis', -1), rank, node);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const b = ctx.builder;
  const f = { T: attr.dtype('float32') };
  const mean = reduce(ctx, `${node.name}/mean`, 'Mean', x, axes, true);
  const centered = b.addNode(`${node.name}/center`, 'Sub', [x.ref, mean.ref], f).name;
  const sq = b.addNode(`${node.name}/square`, 'Square', [centered], f).name;
  const variance = reduce(ctx, `${node.name}/var`, 'Mean', { ...x, ref: sq }, axes, true);
  const epsConst = b.addConst(`${node.name}/eps`, { dtype: 'float32', shape: [], data: Float32Array.of(eps) });
  const inv = b.addNode(
    `${node.name}/rstd`,
    'Rsqrt',
    [b.addNode(`${node.name}/var_eps`, 'AddV2', [variance.ref, epsConst], f).name],
    f,
  ).name;
  let ref = b.addNode(`${node.name}/normalized`, 'Mul', [centered, inv], f).name;
  const scale = ctx.optional(node, 1);
  if (scale) ref = b.addNode(`${node.name}/scale`, 'Mul', [ref, ctx.tensor(scale, `${node.name}/gamma`).ref], f).name;
  const bias = ctx.optional(node, 2);
  if (bias) ref = b.addNode(node.name, 'AddV2', [ref, ctx.tensor(bias, `${node.name}/beta`).ref], f).name;
  ctx.set(node.outputs[0], { ...x, ref });
}
