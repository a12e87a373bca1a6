import { ConversionError, describeNode } from '../conversion-error.ts';
import { attrFloat, attrInt, type ConvertContext, type TensorValue } from '../convert-context.ts';
import type { OnnxNode } from '../onnx-model.ts';
import type { Dim } from '../symbolic-dim.ts';
import { type ConstTensor, sizeOf, transposeConst } from '../tensor-data.ts';
import { attr, type TfAttr } from '../tf-graph-builder.ts';

/** x [M, K] @ w [K, N] (+ bias) as one _FusedMatMul, registered so a following Relu or bias folds in. */
function fusedMatMul(ctx: ConvertContext, name: string, x: string, w: ConstTensor, bias: ConstTensor): string {
  const weight = ctx.builder.addConst(`${name}/weight`, w);
  const biasConst = ctx.builder.addConst(`${name}/bias`, bias);
  const node = ctx.builder.addNode(name, '_FusedMatMul', [x, weight, biasConst], {
    T: attr.dtype('float32'),
    transpose_a: attr.bool(false),
    transpose_b: attr.bool(false),
    fused_ops: attr.strs(['BiasAdd']),
    num_args: attr.int(1),
    epsilon: attr.float(0),
  });
  ctx.fusable.set(node.name, { node, filterConst: weight, biasConst, kind: 'matmul', activated: false });
  return node.name;
}

const zeros = (n: number): ConstTensor => ({ dtype: 'float32', shape: [n], data: new Float32Array(n) });

/** Gemm: Y = alpha * op(A) op(B) + beta * C, with B and C constants (a linear layer). */
export function convertGemm(ctx: ConvertContext, node: OnnxNode): void {
  const a = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  if (a.shape.length !== 2 || attrInt(node, 'transA', 0) !== 0) {
    throw new ConversionError(
      'unsupported_op',
      `${describeNode(node)}: only Gemm on a [batch, features] input is supported`,
    );
  }
  let w = ctx.constOf(node, 1, 'the Gemm weight');
  if (attrInt(node, 'transB', 0) === 1) w = transposeConst(w, [1, 0]);
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  if (alpha !== 1) w = { ...w, data: w.data.map((v) => v * alpha) as Float32Array };
  const n = w.shape[1] as number;
  let bias = zeros(n);
  const c = ctx.optional(node, 2);
  if (c) {
    const cv = ctx.constOf(node, 2, 'the Gemm bias');
    if (sizeOf(cv.shape) !== n)
      throw new ConversionError('unsupported_op', `${describeNode(node)}: only a per-output bias C is supported`);
    bias = { dtype: 'float32', shape: [n], data: Float32Array.from(cv.data, (v) => v * beta) };
  }
  const ref = fusedMatMul(ctx, node.name, a.ref, w, bias);
  ctx.set(node.outputs[0], { kind: 'tensor', ref, shape: [a.shape[0] as Dim, n], layout: 'plain', dtype: 'float32' });
}

/** MatMul: against a constant matrix (a linear layer, any input rank), or two run-time tensors of equal rank. */
export function convertMatMul(ctx: ConvertContext, node: OnnxNode): void {
  const av = ctx.get(node.inputs[0] ?? '', node);
  const bv = ctx.get(node.inputs[1] ?? '', node);
  const a0 = ctx.tensor(av, `${node.name}/a`);
  const a: TensorValue = a0.shape.length === 4 ? { ...a0, ref: ctx.inLayout(a0, 'plain'), layout: 'plain' } : a0;
  if (bv.kind === 'const' && bv.value.shape.length === 2) {
    const [k, n] = bv.value.shape as [number, number];
    if (a.shape.length === 2) {
      const ref = fusedMatMul(ctx, node.name, a.ref, bv.value, zeros(n));
      ctx.set(node.outputs[0], {
        kind: 'tensor',
        ref,
        shape: [a.shape[0] as Dim, n],
        layout: 'plain',
        dtype: 'float32',
      });
      return;
    }
    // [..., K] @ [K, N]: flatten the leading dims, multiply, restore them.
    const lead = a.shape.slice(0, -1);
    const flat = ctx.reshape(a.ref, [-1, k], `${node.name}/flatten`);
    const mm = fusedMatMul(ctx, `${node.name}/matmul`, flat, bv.value, zeros(n));
    const outShape = [...lead, n];
    const ref = ctx.reshape(mm, outShape, node.name);
    ctx.set(node.outputs[0], { kind: 'tensor', ref, shape: outShape, layout: 'plain', dtype: 'float32' });
    return;
  }
  const b: TensorValue = ctx.tensor(bv, `${node.name}/b`);
  if (b.shape.length !== a.shape.length || a.shape.length < 2) {
    throw new ConversionError(
      'unsupported_op',
      `${describeNode(node)}: MatMul of rank ${a.shape.length} by rank ${b.shape.length} is not supported`,
    );
  }
  const bRef = b.shape.length === 4 ? ctx.inLayout(b, 'plain') : b.ref;
  const op = a.shape.length === 2 ? 'MatMul' : 'BatchMatMulV2';
  const flags: Record<string, TfAttr> =
    op === 'MatMul'
      ? { transpose_a: attr.bool(false), transpose_b: attr.bool(false) }
      : { adj_x: attr.bool(false), adj_y: attr.bool(false) };
  const ref = ctx.builder.addNode(node.name, op, [a.ref, bRef], { T: attr.dtype('float32'), ...flags }).name;
  const shape = [...a.shape.slice(0, -1), b.shape[b.shape.length - 1] as Dim];
  ctx.set(node.outputs[0], { kind: 'tensor', ref, shape, layout: 'plain', dtype: 'float32' });
}
