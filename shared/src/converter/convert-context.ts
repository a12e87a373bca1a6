import { ConversionError, describeNode } from './conversion-error.ts';
import type { OnnxAttribute, OnnxNode } from './onnx-model.ts';
import { type Dim, isStatic, toTfShape } from './symbolic-dim.ts';
import { type ConstTensor, sizeOf, transposeConst } from './tensor-data.ts';
import { attr, type TfGraphBuilder, type TfNode } from './tf-graph-builder.ts';

/**
 * Where a 4-D activation lives. ONNX is NCHW; TF.js convolutions are NHWC. A 4-D tensor is kept
 * physically NHWC from the first convolution on and transposed back only where an op needs the
 * logical NCHW order (Flatten of a spatial map, Reshape, Transpose, Gather).
 */
export type Layout = 'plain' | 'nhwc';

export const TO_NHWC = [0, 2, 3, 1];
export const TO_NCHW = [0, 3, 1, 2];

/** What an ONNX tensor name stands for during conversion. */
export type Value =
  | { kind: 'const'; value: ConstTensor }
  /** Integer shape arithmetic that involves the batch size (Shape -> Gather -> Concat -> Reshape). */
  | { kind: 'sym'; shape: number[]; dims: Dim[] }
  | { kind: 'tensor'; ref: string; shape: Dim[]; layout: Layout; dtype: 'float32' | 'int32' | 'bool' };

export type TensorValue = Extract<Value, { kind: 'tensor' }>;

/** A conv or matmul whose bias and activation may still absorb the ops that follow it. */
export interface FusableNode {
  node: TfNode;
  filterConst: string;
  biasConst: string;
  /** Output channels axis of the filter (3 for HWIO, 2 for depthwise HW C mult, 1 for matmul [in, out]). */
  kind: 'conv' | 'depthwise' | 'matmul';
  activated: boolean;
}

export class ConvertContext {
  readonly values = new Map<string, Value>();
  readonly fusable = new Map<string, FusableNode>();
  private readonly layoutCache = new Map<string, string>();
  private batchRef: string | null = null;

  constructor(
    readonly builder: TfGraphBuilder,
    readonly opset: number,
    readonly consumers: Map<string, number>,
    readonly inputRef: string,
  ) {}

  get(name: string, node: OnnxNode): Value {
    const v = this.values.get(name);
    if (!v) throw new ConversionError('malformed', `${describeNode(node)} reads "${name}", which nothing produces`);
    return v;
  }

  /** An optional input: '' or absent means "not given". */
  optional(node: OnnxNode, i: number): Value | null {
    const name = node.inputs[i];
    return name ? this.get(name, node) : null;
  }

  constOf(node: OnnxNode, i: number, what: string): ConstTensor {
    const v = this.get(node.inputs[i] ?? '', node);
    if (v.kind === 'const') return v.value;
    if (v.kind === 'sym' && v.dims.every(isStatic)) {
      return { dtype: 'int32', shape: v.shape, data: Int32Array.from(v.dims as number[]) };
    }
    throw new ConversionError('dynamic_shape', `${describeNode(node)}: ${what} must be known at conversion time`);
  }

  set(name: string | undefined, value: Value): void {
    if (name) this.values.set(name, value);
  }

  /** A runtime tensor for any value: constants become Const nodes, batch arithmetic becomes ops. */
  tensor(v: Value, hint: string): TensorValue {
    if (v.kind === 'tensor') return v;
    if (v.kind === 'const') {
      return {
        kind: 'tensor',
        ref: this.builder.addConst(hint, v.value),
        shape: v.value.shape,
        layout: 'plain',
        dtype: v.value.dtype,
      };
    }
    return { kind: 'tensor', ref: this.symTensor(v, hint), shape: v.shape, layout: 'plain', dtype: 'int32' };
  }

  /** The batch size as an int32 scalar, read from the input's shape at run time. */
  batch(): string {
    if (!this.batchRef) {
      const shape = this.builder.addNode('batch_shape', 'Shape', [this.inputRef], {
        T: attr.dtype('float32'),
        out_type: attr.dtype('int32'),
      });
      const c = (name: string, v: number) =>
        this.builder.addConst(name, { dtype: 'int32', shape: [1], data: Int32Array.of(v) });
      this.batchRef = this.builder.addNode(
        'batch_size',
        'StridedSlice',
        [shape.name, c('batch_begin', 0), c('batch_end', 1), c('batch_stride', 1)],
        {
          T: attr.dtype('int32'),
          Index: attr.dtype('int32'),
          shrink_axis_mask: attr.int(1),
          begin_mask: attr.int(0),
          end_mask: attr.int(0),
          ellipsis_mask: attr.int(0),
          new_axis_mask: attr.int(0),
        },
      ).name;
    }
    return this.batchRef;
  }

  private symTensor(v: Extract<Value, { kind: 'sym' }>, hint: string): string {
    const parts = v.dims.map((d, i) => {
      if (isStatic(d))
        return this.builder.addConst(`${hint}/dim${i}`, { dtype: 'int32', shape: [], data: Int32Array.of(d) });
      if (d.b === 1) return this.batch();
      const k = this.builder.addConst(`${hint}/coef${i}`, { dtype: 'int32', shape: [], data: Int32Array.of(d.b) });
      return this.builder.addNode(`${hint}/dim${i}`, 'Mul', [this.batch(), k], { T: attr.dtype('int32') }).name;
    });
    if (v.shape.length === 0) return parts[0] as string;
    return this.builder.addNode(hint, 'Pack', parts, {
      T: attr.dtype('int32'),
      N: attr.int(parts.length),
      axis: attr.int(0),
    }).name;
  }

  /** The tensor in the requested physical layout, transposing (once, cached) when needed. */
  inLayout(t: TensorValue, layout: Layout): string {
    if (t.shape.length !== 4 || t.layout === layout) return t.ref;
    const key = `${t.ref}|${layout}`;
    const cached = this.layoutCache.get(key);
    if (cached) return cached;
    const perm = layout === 'nhwc' ? TO_NHWC : TO_NCHW;
    const ref = this.transpose(t.ref, perm, `${t.ref}/to_${layout}`);
    this.layoutCache.set(key, ref);
    return ref;
  }

  transpose(ref: string, perm: number[], name: string): string {
    const p = this.builder.addConst(`${name}/perm`, {
      dtype: 'int32',
      shape: [perm.length],
      data: Int32Array.from(perm),
    });
    return this.builder.addNode(name, 'Transpose', [ref, p], { T: attr.dtype('float32'), Tperm: attr.dtype('int32') })
      .name;
  }

  /** A Reshape to a logical shape; the batch-dependent size becomes -1 or a runtime value. */
  reshape(ref: string, shape: Dim[], name: string): string {
    const dynamic = shape.filter((d) => !isStatic(d)).length;
    const target =
      dynamic <= 1
        ? this.builder.addConst(`${name}/shape`, {
            dtype: 'int32',
            shape: [shape.length],
            data: Int32Array.from(toTfShape(shape, name)),
          })
        : this.symTensor({ kind: 'sym', shape: [shape.length], dims: shape }, `${name}/shape`);
    return this.builder.addNode(name, 'Reshape', [ref, target], {
      T: attr.dtype('float32'),
      Tshape: attr.dtype('int32'),
    }).name;
  }

  /** A constant shaped to broadcast against a tensor in its physical layout. */
  constFor(c: ConstTensor, against: TensorValue): ConstTensor {
    if (against.layout !== 'nhwc' || against.shape.length !== 4) return c;
    if (c.shape.length === 0 || sizeOf(c.shape) === 1) return c;
    const rank4 = [...new Array<number>(4 - c.shape.length).fill(1), ...c.shape];
    return transposeConst({ ...c, shape: rank4 }, TO_NHWC);
  }

  uses(name: string): number {
    return this.consumers.get(name) ?? 0;
  }
}

export function attrInt(node: OnnxNode, name: string, def: number): number {
  const a = node.attributes.get(name);
  return a && (a.kind === 'int' || a.kind === 'float') ? a.value : def;
}

export function attrFloat(node: OnnxNode, name: string, def: number): number {
  const a = node.attributes.get(name);
  return a && (a.kind === 'float' || a.kind === 'int') ? a.value : def;
}

export function attrInts(node: OnnxNode, name: string): number[] | null {
  const a: OnnxAttribute | undefined = node.attributes.get(name);
  return a && a.kind === 'ints' ? a.value : null;
}

export function attrString(node: OnnxNode, name: string, def: string): string {
  const a = node.attributes.get(name);
  return a && a.kind === 'string' ? a.value : def;
}

/** Normalises a possibly negative axis. */
export function axisOf(axis: number, rank: number, node: OnnxNode): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw new ConversionError('malformed', `${describeNode(node)}: axis ${axis} is outside rank ${rank}`);
  return a;
}

/** Logical axis of a 4-D NCHW tensor -> its physical axis when stored NHWC. */
export const NHWC_AXIS = [0, 3, 1, 2];

export function physicalAxis(t: TensorValue, axis: number): number {
  return t.layout === 'nhwc' && t.shape.length === 4 ? (NHWC_AXIS[axis] as number) : axis;
}
