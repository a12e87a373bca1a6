import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import { type Run, runner } from './wasm-kernel-runner.ts';
import { FILTER_TRANSFORM, type SimdKernels, simdKernelsFor } from './wasm-simd-module.ts';

/**
 * 3x3 stride-1 'same' convolutions and both their gradients on TF.js's wasm backend by Winograd's
 * F(2x2, 3x3), with the transforms and matrix products of `wasm-simd-module.ts`: 16
 * multiplications per 2x2 outputs and channel pair where the direct convolution does 36.
 *
 * - forward: Y = A^T [U ⊙ V] A per tile, U = G g G^T, V = B^T d B; per plane pq, M_pq = V_pq U_pq
 *   over the input channels;
 * - input gradient: the same convolution of dy with the filter rotated 180 degrees and its channel
 *   axes swapped;
 * - filter gradient: dU_pq = V_pq^T dM_pq summed over every tile, dM = A dY A^T; then
 *   dg[a, b] = sum over p, q of G[p][a] G[q][b] dU_pq.
 *
 * Both channel counts must be multiples of 8 (the products' blocks are 8 columns wide).
 */

interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** Whether a convolution of these shapes and padding takes the Winograd path on this backend. */
export function winogradFits(backend: unknown, filterShape: number[], info: backend_util.Conv2DInfo): boolean {
  const [kh, kw, ci, co] = filterShape as [number, number, number, number];
  const { padInfo: p } = info;
  return (
    simdKernelsFor(backend) !== null &&
    kh === 3 &&
    kw === 3 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    p.top === 1 &&
    p.left === 1 &&
    p.bottom === 1 &&
    p.right === 1 &&
    info.outHeight === info.inHeight &&
    info.outWidth === info.inWidth &&
    ci % 8 === 0 &&
    co % 8 === 0
  );
}

function simdOf(backend: WasmBackend): SimdKernels {
  const simd = simdKernelsFor(backend);
  if (!simd) throw new Error('the SIMD kernels are not compiled');
  return simd;
}

/** G[p][a] G[q][b]: how much filter tap (a, b) weighs in plane pq. */
const weight = (p: number, q: number, a: number, b: number) =>
  (FILTER_TRANSFORM[p]?.[a] as number) * (FILTER_TRANSFORM[q]?.[b] as number);

/**
 * The 16 planes U_pq = sum over a, b of G[p][a] G[q][b] g[a, b] of a 3x3 filter, one after another
 * in one buffer; `tap(a, b)` gives g[a, b] as a row-major [k, c] matrix.
 */
function filterPlanes(backend: WasmBackend, tap: (a: number, b: number) => Float32Array, k: number, c: number) {
  const size = k * c;
  const values = new Float32Array(16 * size);
  for (let a = 0; a < 3; a++)
    for (let b = 0; b < 3; b++) {
      const g = tap(a, b);
      for (let pq = 0; pq < 16; pq++) {
        const w = weight(pq >> 2, pq & 3, a, b);
        if (w === 0) continue;
        const plane = values.subarray(pq * size, (pq + 1) * size);
        for (let i = 0; i < size; i++) plane[i] = (plane[i] as number) + w * (g[i] as number);
      }
    }
  const planes = backend.makeOutput([16, k, c], 'float32');
  backend.typedArrayFromHeap(planes).set(values);
  return planes;
}

const addressOf = (backend: WasmBackend, t: TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;

/** Images and tile rows and columns of an NHWC shape. */
function tiling([n, h, w]: number[]) {
  const th = Math.ceil((h as number) / 2);
  const tw = Math.ceil((w as number) / 2);
  return { n: n as number, h: h as number, w: w as number, th, tw, count: (n as number) * th * tw };
}

function pad(run: Run, x: TensorInfo, rows: [number, number], cols: [number, number]): TensorInfo {
  return run('PadV2', { x }, { paddings: [[0, 0], rows, cols, [0, 0]], constantValue: 0 });
}

/** The 16 input planes of x [n, h, w, k], each [tiles, k]. */
function inputPlanes(backend: WasmBackend, run: Run, x: TensorInfo): TensorInfo {
  const { n, h, w, th, tw, count } = tiling(x.shape);
  const k = x.shape[3] as number;
  const padded = pad(run, x, [1, 2 * th + 1 - h], [1, 2 * tw + 1 - w]);
  const v = backend.makeOutput([16, count, k], 'float32');
  simdOf(backend).inputTiles(addressOf(backend, padded), n, th, tw, k, addressOf(backend, v));
  runner(backend).free(padded);
  return v;
}

/** x [n, h, w, k] convolved with the filter planes U [16, k, c]: the forward of the output and input gradient. */
function convolveByPlanes(backend: WasmBackend, x: TensorInfo, u: TensorInfo, c: number): TensorInfo {
  const simd = simdOf(backend);
  const { run, free } = runner(backend);
  const { n, h, w, th, tw, count } = tiling(x.shape);
  const k = x.shape[3] as number;
  const v = inputPlanes(backend, run, x);
  const m = backend.makeOutput([16, count, c], 'float32');
  const [va, ua, ma] = [addressOf(backend, v), addressOf(backend, u), addressOf(backend, m)];
  for (let pq = 0; pq < 16; pq++)
    simd.gemm(va + pq * count * k * 4, k * 4, 4, ua + pq * k * c * 4, c * 4, ma + pq * count * c * 4, count, c, k, 0);
  const full = backend.makeOutput([n, 2 * th, 2 * tw, c], 'float32');
  simd.outputTiles(addressOf(backend, full), n, th, tw, c, ma);
  free(v, m);
  if (2 * th === h && 2 * tw === w) return full;
  const y = run('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [n, h, w, c] });
  free(full);
  return y;
}

/**
 * x convolved with a 3x3 filter whose taps `tap(a, b)` are row-major [k, c] matrices (k the
 * input's channels): the filter's planes, then the convolution by them.
 */
function convolveByFilter(
  backend: WasmBackend,
  x: TensorInfo,
  tap: (a: number, b: number) => Float32Array,
  c: number,
): TensorInfo {
  const u = filterPlanes(backend, tap, x.shape[3] as number, c);
  const y = convolveByPlanes(backend, x, u, c);
  runner(backend).free(u);
  return y;
}

/** Filter g [3, 3, ci, co]'s tap (a, b), a view of the backend's heap. */
function filterTap(backend: WasmBackend, filter: TensorInfo, a: number, b: number): Float32Array {
  const [, , ci, co] = filter.shape as [number, number, number, number];
  const size = ci * co;
  return backend.typedArrayFromHeap(filter).subarray((a * 3 + b) * size, (a * 3 + b + 1) * size);
}

/** y = conv(x, g), 3x3, stride 1, 'same'. */
export function winogradConv(backendRef: unknown, x: TensorInfo, filter: TensorInfo): TensorInfo {
  const backend = backendRef as WasmBackend;
  return convolveByFilter(backend, x, (a, b) => filterTap(backend, filter, a, b), filter.shape[3] as number);
}

/** dx of y = conv(x, g): dy convolved with g rotated 180 degrees, its channel axes swapped. */
export function winogradBackpropInput(backendRef: unknown, dy: TensorInfo, filter: TensorInfo): TensorInfo {
  const backend = backendRef as WasmBackend;
  const [, , ci, co] = filter.shape as [number, number, number, number];
  return convolveByFilter(
    backend,
    dy,
    (a, b) => {
      // g[2 - a, 2 - b] as [co, ci].
      const tap = filterTap(backend, filter, 2 - a, 2 - b);
      const swapped = new Float32Array(ci * co);
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) swapped[o * ci + i] = tap[i * co + o] as number;
      return swapped;
    },
    ci,
  );
}

/** dW [3, 3, ci, co] of y = conv(x, g) from x and dy. */
export function winogradBackpropFilter(backendRef: unknown, x: TensorInfo, dy: TensorInfo): TensorInfo {
  const backend = backendRef as WasmBackend;
  const simd = simdOf(backend);
  const { run, free } = runner(backend);
  const { n, h, w, th, tw, count } = tiling(x.shape);
  const ci = x.shape[3] as number;
  const co = dy.shape[3] as number;
  const v = inputPlanes(backend, run, x);
  // dy past the map (odd sizes) is zero: the cropped outputs had no gradient.
  const even = 2 * th === h && 2 * tw === w ? dy : pad(run, dy, [0, 2 * th - h], [0, 2 * tw - w]);
  const dm = backend.makeOutput([16, count, co], 'float32');
  simd.gradientTiles(addressOf(backend, even), n, th, tw, co, addressOf(backend, dm));
  // dU_pq [ci, co] = V_pq^T dM_pq: V read down its columns (row stride 4 bytes, depth stride ci * 4).
  const du = backend.makeOutput([16, ci, co], 'float32');
  const [va, dma, dua] = [addressOf(backend, v), addressOf(backend, dm), addressOf(backend, du)];
  for (let pq = 0; pq < 16; pq++)
    simd.gemm(
      va + pq * count * ci * 4,
      4,
      ci * 4,
      dma + pq * count * co * 4,
      co * 4,
      dua + pq * ci * co * 4,
      ci,
      co,
      count,
      0,
    );
  const size = ci * co;
  const planes = backend.typedArrayFromHeap(du);
  const values = new Float32Array(9 * size);
  for (let a = 0; a < 3; a++)
    for (let b = 0; b < 3; b++) {
      const tap = values.subarray((a * 3 + b) * size, (a * 3 + b + 1) * size);
      for (let pq = 0; pq < 16; pq++) {
        const wt = weight(pq >> 2, pq & 3, a, b);
        if (wt === 0) continue;
        const plane = planes.subarray(pq * size, (pq + 1) * size);
        for (let i = 0; i < size; i++) tap[i] = (tap[i] as number) + wt * (plane[i] as number);
      }
    }
  free(v, dm, du);
  if (even !== dy) free(even);
  const dw = backend.makeOutput([3, 3, ci, co], 'float32');
  backend.typedArrayFromHeap(dw).set(values);
  return dw;
}
