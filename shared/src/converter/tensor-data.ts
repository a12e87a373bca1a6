import { halfToFloat } from '../math/target-codec.ts';
import { ConversionError } from './conversion-error.ts';
import { OnnxDataType, type OnnxTensor } from './onnx-model.ts';
import { broadcastDims } from './symbolic-dim.ts';

export type ConstDtype = 'float32' | 'int32' | 'bool';

/** A compile-time constant: initializers, Constant nodes and everything folded from them. */
export interface ConstTensor {
  dtype: ConstDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

const INT32_MAX = 2 ** 31 - 1;
/** int64 indices such as INT64_MAX in Slice ends clamp to what int32 graphs can hold. */
const clampInt = (v: number) => Math.max(-INT32_MAX - 1, Math.min(INT32_MAX, v));

/** Decodes an ONNX tensor into float32, int32 (from any integer type) or bool (as int32 0/1). */
export function decodeTensor(t: OnnxTensor): ConstTensor {
  const count = t.dims.reduce((a, d) => a * d, 1);
  const raw = t.rawData;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  switch (t.dataType) {
    case OnnxDataType.FLOAT: {
      const data = new Float32Array(count);
      if (view) for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true);
      else data.set(t.floatData.slice(0, count));
      return { dtype: 'float32', shape: t.dims, data };
    }
    case OnnxDataType.DOUBLE: {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view ? view.getFloat64(8 * i, true) : (t.doubleData[i] as number);
      return { dtype: 'float32', shape: t.dims, data };
    }
    case OnnxDataType.FLOAT16: {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++)
        data[i] = halfToFloat(view ? view.getUint16(2 * i, true) : (t.int32Data[i] as number));
      return { dtype: 'float32', shape: t.dims, data };
    }
    case OnnxDataType.INT64: {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        data[i] = clampInt(view ? Number(view.getBigInt64(8 * i, true)) : (t.int64Data[i] as number));
      }
      return { dtype: 'int32', shape: t.dims, data };
    }
    case OnnxDataType.INT32:
    case OnnxDataType.INT8:
    case OnnxDataType.UINT8:
    case OnnxDataType.BOOL: {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        if (!view) data[i] = t.int32Data[i] as number;
        else if (t.dataType === OnnxDataType.INT32) data[i] = view.getInt32(4 * i, true);
        else if (t.dataType === OnnxDataType.INT8) data[i] = view.getInt8(i);
        else data[i] = view.getUint8(i);
      }
      return { dtype: t.dataType === OnnxDataType.BOOL ? 'bool' : 'int32', shape: t.dims, data };
    }
    default:
      throw new ConversionError(
        'unsupported_op',
        `tensor "${t.name}" has ONNX data type ${t.dataType}, which priors cannot use`,
      );
  }
}

export function sizeOf(shape: number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

export function stridesOf(shape: number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = (strides[i + 1] as number) * (shape[i + 1] as number);
  return strides;
}

/** Transposes a constant: out[perm-indexed] = in. */
export function transposeConst(t: ConstTensor, perm: number[]): ConstTensor {
  const outShape = perm.map((p) => t.shape[p] as number);
  const inStrides = stridesOf(t.shape);
  const out = t.data instanceof Float32Array ? new Float32Array(t.data.length) : new Int32Array(t.data.length);
  const outStrides = stridesOf(outShape);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    let src = 0;
    for (let d = 0; d < outShape.length; d++) {
      idx[d] = Math.floor(rem / (outStrides[d] as number));
      rem -= (idx[d] as number) * (outStrides[d] as number);
      src += (idx[d] as number) * (inStrides[perm[d] as number] as number);
    }
    out[o] = t.data[src] as number;
  }
  return { dtype: t.dtype, shape: outShape, data: out };
}

/** Elementwise op on two constants with broadcasting. */
export function mapConst(
  a: ConstTensor,
  b: ConstTensor,
  dtype: ConstDtype,
  f: (x: number, y: number) => number,
  where: string,
): ConstTensor {
  const shape = broadcastDims(a.shape, b.shape, where) as number[];
  const n = sizeOf(shape);
  const data = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  const os = stridesOf(shape);
  const index = (t: ConstTensor, o: number) => {
    const off = shape.length - t.shape.length;
    const ts = stridesOf(t.shape);
    let src = 0;
    let rem = o;
    for (let d = 0; d < shape.length; d++) {
      const i = Math.floor(rem / (os[d] as number));
      rem -= i * (os[d] as number);
      if (d >= off && t.shape[d - off] !== 1) src += i * (ts[d - off] as number);
    }
    return t.data[src] as number;
  };
  for (let o = 0; o < n; o++) data[o] = f(index(a, o), index(b, o));
  return { dtype, shape, data };
}
