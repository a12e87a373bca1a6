import { ConversionError, describeNode } from '../conversion-error.ts';
import { attrFloat, attrInt, type ConvertContext, type TensorValue, type Value } from '../convert-context.ts';
import type { OnnxNode } from '../onnx-model.ts';
import { addDims, broadcastDims, type Dim, divDims, isStatic, mulDims } from '../symbolic-dim.ts';
import { type ConstTensor, mapConst, sizeOf } from '../tensor-data.ts';
import { attr } from '../tf-graph-builder.ts';

const FLOAT_OPS: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
  Max: (a, b) => Math.max(a, b),
  Min: (a, b) => Math.min(a, b),
  Equal: (a, b) => (a === b ? 1 : 0),
};

const TF_BINARY: Record<string, string> = {
  Add: 'AddV2',
  Sub: 'Sub',
  Mul: 'Mul',
  Div: 'RealDiv',
  Pow: 'Pow',
  Max: 'Maximum',
  Min: 'Minimum',
};

/** Integer values as symbolic dims, where the value is a small 1-D or scalar integer tensor. */
function symDims(v: Value): { shape: number[]; dims: Dim[] } | null {
  if (v.kind === 'sym') return v;
  if (v.kind === 'const' && v.value.dtype !== 'float32' && v.value.shape.length <= 1) {
    return { shape: v.value.shape, dims: Array.from(v.value.data) };
  }
  return null;
}

function foldSym(node: OnnxNode, a: { shape: number[]; dims: Dim[] }, b: { shape: number[]; dims: Dim[] }): Value {
  const n = Math.max(a.dims.length, b.dims.length);
  const where = describeNode(node);
  const pick = (x: Dim[], i: number) => (x.length === 1 ? (x[0] as Dim) : (x[i] as Dim));
  const dims: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = pick(a.dims, i);
    const y = pick(b.dims, i);
    switch (node.opType) {
      case 'Add':
        dims.push(addDims(x, y, where));
        break;
      case 'Sub':
        dims.push(addDims(x, isStatic(y) ? -y : { b: -y.b }, where));
        break;
      case 'Mul':
        dims.push(mulDims(x, y, where));
        break;
      case 'Div':
        dims.push(divDims(x, y, where));
        break;
      case 'Equal':
        // The batch size is positive: it equals no constant <= 0 (exports compare shapes with -1).
        if (isStatic(x) && isStatic(y)) dims.push(x === y ? 1 : 0);
        else if ((isStatic(x) && x <= 0) || (isStatic(y) && y <= 0)) dims.push(0);
        else if (!isStatic(x) && !isStatic(y)) dims.push(x.b === y.b ? 1 : 0);
        else
          throw new ConversionError(
            'dynamic_shape',
            `${where}: comparing the batch size with ${isStatic(x) ? x : String(y)} cannot be resolved`,
          );
        break;
      default:
        throw new ConversionError('dynamic_shape', `${where}: ${node.opType} on the batch size cannot be resolved`);
    }
  }
  const shape = a.shape.length >= b.shape.length ? a.shape : b.shape;
  if (dims.every(isStatic)) {
    return {
      kind: 'const',
      value: { dtype: node.opType === 'Equal' ? 'bool' : 'int32', shape, data: Int32Array.from(dims as number[]) },
    };
  }
  return { kind: 'sym', shape, dims };
}

/** Add, Sub, Mul, Div, Pow, Max, Min, Equal: folded on constants and shape values, emitted otherwise. */
export function convertBinary(ctx: ConvertContext, node: OnnxNode): void {
  const a = ctx.get(node.inputs[0] ?? '', node);
  const b = ctx.get(node.inputs[1] ?? '', node);
  const f = FLOAT_OPS[node.opType] as (a: number, b: number) => number;
  if (a.kind === 'const' && b.kind === 'const') {
    const isInt = a.value.dtype !== 'float32' && b.value.dtype !== 'float32';
    const g = isInt && node.opType === 'Div' ? (x: number, y: number) => Math.trunc(x / y) : f;
    const dtype = node.opType === 'Equal' ? 'bool' : isInt ? 'int32' : 'float32';
    ctx.set(node.outputs[0], { kind: 'const', value: mapConst(a.value, b.value, dtype, g, describeNode(node)) });
    return;
  }
  const sa = symDims(a);
  const sb = symDims(b);
  if ((a.kind === 'sym' || b.kind === 'sym') && sa && sb) {
    ctx.set(node.outputs[0], foldSym(node, sa, sb));
    return;
  }
  const op = TF_BINARY[node.opType];
  if (!op)
    throw new ConversionError(
      'unsupported_op',
      `${describeNode(node)}: ${node.opType} on run-time tensors is not supported`,
    );
  if (tryFuseBias(ctx, node, a, b)) return;
  ctx.set(node.outputs[0], emitBinary(ctx, node, op, a, b));
}

/** An Add of a per-feature constant right after a MatMul (its only consumer) becomes that MatMul's bias. */
function tryFuseBias(ctx: ConvertContext, node: OnnxNode, a: Value, b: Value): boolean {
  if (node.opType !== 'Add') return false;
  const tensorFirst = a.kind === 'tensor';
  const t = tensorFirst ? a : b;
  const c = tensorFirst ? b : a;
  if (t.kind !== 'tensor' || c.kind !== 'const') return false;
  const fused = ctx.fusable.get(t.ref);
  if (fused?.kind !== 'matmul' || fused.activated || ctx.uses(node.inputs[tensorFirst ? 0 : 1] ?? '') !== 1)
    return false;
  const bias = ctx.builder.consts.get(fused.biasConst) as ConstTensor;
  const perFeature = c.value.shape.slice(0, -1).every((d) => d === 1) && sizeOf(c.value.shape) === bias.data.length;
  if (!perFeature || c.value.shape.length > t.shape.length) return false;
  for (let i = 0; i < bias.data.length; i++) bias.data[i] = (bias.data[i] as number) + (c.value.data[i] as number);
  ctx.set(node.outputs[0], t);
  return true;
}

function emitBinary(ctx: ConvertContext, node: OnnxNode, op: string, a: Value, b: Value): TensorValue {
  const ta = a.kind === 'tensor' ? a : null;
  const tb = b.kind === 'tensor' ? b : null;
  const anchor = (ta?.layout === 'nhwc' ? ta : tb?.layout === 'nhwc' ? tb : (ta ?? tb)) as TensorValue;
  const shape = broadcastDims(valueShape(a), valueShape(b), describeNode(node));
  const layout = anchor.layout === 'nhwc' && shape.length === 4 ? 'nhwc' : 'plain';
  const operand = (v: Value, i: number): string => {
    if (v.kind === 'const') {
      // Division by a constant is a multiplication by its reciprocal; Pow by 2 or 0.5 gets its own op below.
      const c =
        op === 'RealDiv' && i === 1 ? { ...v.value, data: v.value.data.map((x) => 1 / x) as Float32Array } : v.value;
      return ctx.builder.addConst(`${node.name}/c${i}`, layout === 'nhwc' ? ctx.constFor(c, anchor) : c);
    }
    const t = ctx.tensor(v, `${node.name}/in${i}`);
    if (t.shape.length === 4) return ctx.inLayout(t, layout === 'nhwc' ? 'nhwc' : 'plain');
    if (layout === 'nhwc' && t.shape.length > 0 && t.shape.some((d) => d !== 1)) {
      throw new ConversionError(
        'unsupported_op',
        `${describeNode(node)}: broadcasting a rank-${t.shape.length} tensor against an image tensor is not supported`,
      );
    }
    return t.ref;
  };
  const dtype = ta?.dtype ?? tb?.dtype ?? 'float32';
  if (
    op === 'Pow' &&
    b.kind === 'const' &&
    sizeOf(b.value.shape) === 1 &&
    (b.value.data[0] === 2 || b.value.data[0] === 0.5)
  ) {
    const unary = b.value.data[0] === 2 ? 'Square' : 'Sqrt';
    const ref = ctx.builder.addNode(node.name, unary, [operand(a, 0)], { T: attr.dtype('float32') }).name;
    return { kind: 'tensor', ref, shape, layout, dtype };
  }
  const tfOp = op === 'RealDiv' && b.kind === 'const' ? 'Mul' : op;
  const ref = ctx.builder.addNode(node.name, tfOp, [operand(a, 0), operand(b, 1)], { T: attr.dtype(dtype) }).name;
  return { kind: 'tensor', ref, shape, layout, dtype };
}

function valueShape(v: Value): Dim[] {
  return v.kind === 'const' ? v.value.shape : v.shape;
}

const TF_UNARY: Record<string, string> = {
  Relu: 'Relu',
  Sigmoid: 'Sigmoid',
  Tanh: 'Tanh',
  Erf: 'Erf',
  Sqrt: 'Sqrt',
  Exp: 'Exp',
  Neg: 'Neg',
  Abs: 'Abs',
  Reciprocal: 'Reciprocal',
  Log: 'Log',
};

function unary(
  ctx: ConvertContext,
  node: OnnxNode,
  x: TensorValue,
  op: string,
  name = node.name,
  extra: string[] = [],
): TensorValue {
  const ref = ctx.builder.addNode(name, op, [x.ref, ...extra], { T: attr.dtype('float32') }).name;
  return { ...x, ref };
}

/** Relu or Relu6 right after a conv/matmul (its only consumer) becomes the fused activation. */
function tryFuseActivation(ctx: ConvertContext, node: OnnxNode, x: TensorValue, activation: 'Relu' | 'Relu6'): boolean {
  const fused = ctx.fusable.get(x.ref);
  if (!fused || fused.activated || ctx.uses(node.inputs[0] ?? '') !== 1) return false;
  fused.node.attr.fused_ops = attr.strs(['BiasAdd', activation]);
  fused.activated = true;
  ctx.set(node.outputs[0], x);
  return true;
}

export function convertUnary(ctx: ConvertContext, node: OnnxNode): void {
  const v = ctx.get(node.inputs[0] ?? '', node);
  const x = ctx.tensor(v, node.name);
  if (node.opType === 'Relu' && tryFuseActivation(ctx, node, x, 'Relu')) return;
  ctx.set(node.outputs[0], unary(ctx, node, x, TF_UNARY[node.opType] as string));
}

/** Identity, Dropout (inference) and float-to-float Cast pass their input through unchanged. */
export function convertPassThrough(ctx: ConvertContext, node: OnnxNode): void {
  ctx.set(node.outputs[0], ctx.get(node.inputs[0] ?? '', node));
}

const scalar = (ctx: ConvertContext, name: string, v: number) =>
  ctx.builder.addConst(name, { dtype: 'float32', shape: [], data: Float32Array.of(v) });

export function convertClip(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const bound = (i: number, attrName: string, def: number) => {
    if (ctx.opset < 11) return attrFloat(node, attrName, def);
    const v = ctx.optional(node, i);
    return v ? (ctx.constOf(node, i, 'a clip bound').data[0] as number) : def;
  };
  const lo = bound(1, 'min', Number.NEGATIVE_INFINITY);
  const hi = bound(2, 'max', Number.POSITIVE_INFINITY);
  if (lo === 0 && (hi === 6 || hi === Number.POSITIVE_INFINITY)) {
    const act = hi === 6 ? 'Relu6' : 'Relu';
    if (tryFuseActivation(ctx, node, x, act)) return;
    ctx.set(node.outputs[0], unary(ctx, node, x, act));
    return;
  }
  const min = scalar(ctx, `${node.name}/min`, Math.max(lo, -3.4e38));
  const max = scalar(ctx, `${node.name}/max`, Math.min(hi, 3.4e38));
  ctx.set(node.outputs[0], unary(ctx, node, x, 'ClipByValue', node.name, [min, max]));
}

/** HardSigmoid: clip(alpha * x + beta, 0, 1); HardSwish: x * HardSigmoid(x) with alpha 1/6, beta 1/2. */
export function convertHardActivation(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const swish = node.opType === 'HardSwish';
  const alpha = swish ? 1 / 6 : attrFloat(node, 'alpha', 0.2);
  const beta = swish ? 0.5 : attrFloat(node, 'beta', 0.5);
  const b = ctx.builder;
  const scaled = b.addNode(`${node.name}/scale`, 'Mul', [x.ref, scalar(ctx, `${node.name}/alpha`, alpha)], {
    T: attr.dtype('float32'),
  });
  const shifted = b.addNode(`${node.name}/shift`, 'AddV2', [scaled.name, scalar(ctx, `${node.name}/beta`, beta)], {
    T: attr.dtype('float32'),
  });
  const clipped = b.addNode(
    swish ? `${node.name}/gate` : node.name,
    'ClipByValue',
    [shifted.name, scalar(ctx, `${node.name}/zero`, 0), scalar(ctx, `${node.name}/one`, 1)],
    {
      T: attr.dtype('float32'),
    },
  );
  const ref = swish
    ? b.addNode(node.name, 'Mul', [x.ref, clipped.name], { T: attr.dtype('float32') }).name
    : clipped.name;
  ctx.set(node.outputs[0], { ...x, ref });
}

export function convertLeakyRelu(ctx: ConvertContext, node: OnnxNode): void {
  const x = ctx.tensor(ctx.get(node.inputs[0] ?? '', node), node.name);
  const ref = ctx.builder.addNode(node.name, 'LeakyRelu', [x.ref], {
    T: attr.dtype('float32'),
    alpha: attr.float(attrFloat(node, 'alpha', 0.01)),
  }).name;
  ctx.set(node.outputs[0], { ...x, ref });
}

const ONNX_TO_DTYPE: Record<number, 'float32' | 'int32' | 'bool'> = {
  1: 'float32',
  10: 'float32',
  11: 'float32',
  6: 'int32',
  7: 'int32',
  2: 'int32',
  3: 'int32',
  9: 'bool',
};

export function convertCast(ctx: ConvertContext, node: OnnxNode): void {
  const to = ONNX_TO_DTYPE[attrInt(node, 'to', 1)];
  if (!to)
    throw new ConversionError(
      'unsupported_op',
      `${describeNode(node)}: cast to ONNX type ${attrInt(node, 'to', 0)} is not supported`,
    );
  const v = ctx.get(node.inputs[0] ?? '', node);
  if (v.kind === 'sym') {
    ctx.set(node.outputs[0], v);
    return;
  }
  if (v.kind === 'const') {
    const data =
      to === 'float32'
        ? Float32Array.from(v.value.data)
        : Int32Array.from(v.value.data, (x) => (to === 'bool' ? (x ? 1 : 0) : Math.trunc(x)));
    ctx.set(node.outputs[0], { kind: 'const', value: { dtype: to, shape: v.value.shape, data } });
    return;
  }
  if (v.dtype === to) {
    ctx.set(node.outputs[0], v);
    return;
  }
  const ref = ctx.builder.addNode(node.name, 'Cast', [v.ref], { SrcT: attr.dtype(v.dtype), DstT: attr.dtype(to) }).name;
  ctx.set(node.outputs[0], { ...v, ref, dtype: to });
}
