import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { runner } from './wasm-kernel-runner.ts';
import { simdKernelsFor } from './wasm-simd-module.ts';

/**
 * BatchMatMul on TF.js's wasm backend through the project's SIMD matrix product
 * (`wasm-simd-module.ts`) wherever the right operand's columns are a multiple of 8: a transposed
 * left operand is read through its strides, a transposed right one is transposed first (it is
 * the one that, for a student, is small: a weight matrix). Batches pair up or broadcast from one.
 * Everything else goes to the backend's own kernel.
 */

interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

export function simdBatchMatMul(shipped: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as unknown as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const kernels = simdKernelsFor(args.backend);
    const ar = a.shape.length;
    const br = b.shape.length;
    const m = (transposeA ? a.shape[ar - 1] : a.shape[ar - 2]) as number;
    const k = (transposeA ? a.shape[ar - 2] : a.shape[ar - 1]) as number;
    const n = (transposeB ? b.shape[br - 2] : b.shape[br - 1]) as number;
    const batchesA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchesB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const pairs = batchesA === batchesB || batchesA === 1 || batchesB === 1;
    const innerMatches = k === (transposeB ? b.shape[br - 1] : b.shape[br - 2]);
    if (
      !kernels ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      n % 8 !== 0 ||
      !pairs ||
      !innerMatches ||
      ar !== br ||
      m * k * n === 0
    )
      return shipped(args);
    const backend = args.backend as unknown as WasmBackend;
    const { run, free } = runner(backend);
    const right = transposeB
      ? run(
          'Transpose',
          { x: b },
          { perm: [...b.shape.keys()].map((i) => (i < br - 2 ? i : i === br - 2 ? br - 1 : br - 2)) },
        )
      : b;
    const batches = Math.max(batchesA, batchesB);
    const outer = (batchesA >= batchesB ? a : b).shape.slice(0, -2);
    const out = backend.makeOutput([...outer, m, n], 'float32');
    const address = (t: TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
    const [pa, pb, pc] = [address(a), address(right), address(out)];
    // A(i, k): row i of a, or column i of a transposed [k, m].
    const [rowStride, depthStride] = transposeA ? [4, m * 4] : [k * 4, 4];
    for (let i = 0; i < batches; i++)
      kernels.gemm(
        pa + (batchesA === 1 ? 0 : i * m * k * 4),
        rowStride,
        depthStride,
        pb + (batchesB === 1 ? 0 : i * k * n * 4),
        n * 4,
        pc + i * m * n * 4,
        m,
        n,
        k,
        0,
      );
    if (right !== b) free(right);
    return out;
  };
}
