import {
  type Conv2DAttrs,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  registerKernel,
  type TensorInfo,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import { registerAllGradients } from './register-gradients.ts';
import { depthwiseBackpropFilter, depthwiseBackpropInput } from './wasm-depthwise-kernels.ts';
import {
  checkLayout,
  convInfo,
  correlate,
  fullCorrelationPadding,
  padSpatial,
  type Run,
  runner,
} from './wasm-kernel-runner.ts';
import { simdBatchMatMul } from './wasm-matmul-kernel.ts';
import { compileSimdKernels, simdKernelsFor } from './wasm-simd-module.ts';
import { winogradBackpropFilter, winogradBackpropInput, winogradConv, winogradFits } from './wasm-winograd-conv.ts';

/**
 * Training kernels for TF.js's wasm backend, built from its own fast forward kernels (XNNPACK
 * convolution and matrix product, transpose, pad, reverse), so convnets train on it at
 * forward-pass speed.
 *
 * The wasm backend ships no Conv2DBackpropFilter, and its Conv2DBackpropInput is a plain loop
 * about ten times slower than its forward convolution. Both gradients are convolutions themselves:
 *
 * - filter gradient: dW[kh, kw, ci, co] = sum over b, oh, ow of xpad[b, oh*s + kh, ow*s + kw, ci] * dy[b, oh, ow, co],
 *   which is a forward convolution of xpad with batch and channels swapped ([ci, H, W, b]) by dy
 *   laid out as a filter ([oh, ow, b, co], dilated by the stride). For a thin input (an image's
 *   one or three channels) the two transposes would cost several times that convolution, so
 *   there the input's patches are gathered by a convolution with an identity filter instead, and
 *   dW^T is one matrix product of dy^T [co, positions] with the patches [positions, kh*kw*ci];
 * - input gradient (stride 1): dx = conv(dy padded by k - 1 - pad, w rotated 180 degrees with its
 *   channel axes swapped), a "full" correlation.
 *
 * 3x3 stride-1 'same' convolutions whose channel counts are multiples of 8, and both their
 * gradients, take Winograd's F(2x2, 3x3) instead (`wasm-winograd-conv.ts`).
 *
 * The depthwise gradients, which it lacks too, are in wasm-depthwise-kernels.ts.
 */

/** Filter taps x input channels up to which the filter gradient gathers patches (3x3 over up to 3 channels). */
const MAX_PATCH_WIDTH = 32;

/** Identity filters [kh, kw, ci, kh*kw*ci], made once per backend and shape: a convolution with one gathers patches. */
const identityFilters = new WeakMap<object, Map<string, TensorInfo>>();

function identityFilter(backend: unknown, kh: number, kw: number, ci: number): TensorInfo {
  const key = `${kh}x${kw}x${ci}`;
  let filters = identityFilters.get(backend as object);
  if (!filters) {
    filters = new Map();
    identityFilters.set(backend as object, filters);
  }
  let filter = filters.get(key);
  if (!filter) {
    const width = kh * kw * ci;
    const values = new Float32Array(width * width);
    for (let i = 0; i < width; i++) values[i * width + i] = 1;
    // Written into the backend's heap once; it lives as long as the backend.
    const wasm = backend as {
      makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
      typedArrayFromHeap(t: TensorInfo): Float32Array;
    };
    filter = wasm.makeOutput([kh, kw, ci, width], 'float32');
    wasm.typedArrayFromHeap(filter).set(values);
    filters.set(key, filter);
  }
  return filter;
}

/**
 * The input's patches [positions, kh * kw * ci] under a convolution's strides and padding (row p
 * holds the inputs output p saw), by the backend's own convolution with an identity filter.
 */
function patchesOf(
  backend: unknown,
  x: TensorInfo,
  [kh, kw, ci]: number[],
  attrs: { strides: number | [number, number]; pad: unknown; dimRoundingMode?: unknown },
): TensorInfo {
  if (!originalConv2D) throw new Error('the wasm backend has no Conv2D kernel');
  const { run, free } = runner(backend);
  const patches = originalConv2D({
    inputs: { x, filter: identityFilter(backend, kh as number, kw as number, ci as number) },
    backend: backend as never,
    attrs: {
      strides: attrs.strides,
      pad: attrs.pad,
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: attrs.dimRoundingMode,
    } as never,
  }) as TensorInfo;
  const positions = patches.shape.slice(0, 3).reduce((a, b) => a * b, 1);
  const flat = run('Reshape', { x: patches }, { shape: [positions, (kh as number) * (kw as number) * (ci as number)] });
  free(patches);
  return flat;
}

/** dW of a convolution over a thin input, as patches^T x dy (see above). */
function filterGradientByPatches(
  backend: unknown,
  x: TensorInfo,
  dy: TensorInfo,
  attrs: Conv2DBackpropFilterAttrs,
): TensorInfo {
  const [kh, kw, ci, co] = attrs.filterShape;
  const { run, free } = runner(backend);
  const flat = patchesOf(backend, x, attrs.filterShape, attrs);
  const [positions] = flat.shape as [number, number];
  const dy2 = run('Reshape', { x: dy }, { shape: [positions, co] });
  if (co % 8 === 0 && simdKernelsFor(backend)) {
    // dW = patches^T x dy, [kh * kw * ci, co]: the SIMD product reads the patches down their
    // columns, in place (`wasm-matmul-kernel.ts`).
    const product = run('BatchMatMul', { a: flat, b: dy2 }, { transposeA: true, transposeB: false });
    const dw = run('Reshape', { x: product }, { shape: [kh, kw, ci, co] });
    free(flat, dy2, product);
    return dw;
  }
  // dW^T = dy^T x patches. XNNPACK packs a product's right operand anew for every new tensor, so
  // the thin patches [positions, width] go there and dy, transposed, streams through on the left.
  const dyT = run('Transpose', { x: dy2 }, { perm: [1, 0] });
  const product = run('BatchMatMul', { a: dyT, b: flat }, { transposeA: false, transposeB: false });
  const transposed = run('Transpose', { x: product }, { perm: [1, 0] });
  const dw = run('Reshape', { x: transposed }, { shape: [kh, kw, ci, co] });
  free(flat, dy2, dyT, product, transposed);
  return dw;
}

const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as unknown as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  checkLayout(dataFormat, 'Conv2DBackpropFilter');
  if (winogradFits(backend, filterShape, convInfo(x.shape, filterShape, strides, pad, dimRoundingMode)))
    return winogradBackpropFilter(backend, x, dy);
  const [fh, fw, fci] = filterShape;
  if (fh * fw * fci <= MAX_PATCH_WIDTH)
    return filterGradientByPatches(backend, x, dy, attrs as unknown as Conv2DBackpropFilterAttrs);
  const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode);
  const { run, free } = runner(backend);
  if (info.strideHeight === 1 && info.strideWidth === 1 && filterShape[2] <= filterShape[3]) {
    const dw = filterGradientByCorrelation(run, free, x, dy, filterShape, info.padInfo);
    if (dw) return dw;
  }
  const xp = padSpatial(run, x, info.padInfo);
  const xt = run('Transpose', { x: xp }, { perm: [3, 1, 2, 0] });
  const dyt = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const r = run(
    'Conv2D',
    { x: xt, filter: dyt },
    {
      strides: [1, 1],
      pad: 'valid',
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
    },
  );
  // The padded input may reach past the last filter offset; keep the filter's own extent.
  const [kh, kw, ci, co] = filterShape;
  const cropped =
    r.shape[1] === kh && r.shape[2] === kw
      ? r
      : run('Slice', { x: r }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
  const dw = run('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] });
  free(xp, xt, dyt, r);
  if (cropped !== r) free(cropped);
  return dw;
};

/**
 * dW of a stride-1 convolution with x as the filter: dW[kh, kw] = sum over b, i, j of
 * x[b, i, j] * dy[b, i + top - kh, j + left - kw], so with dy as the input ([co, oh, ow, b], padded
 * by the convolution itself) and x as the filter ([h, w, b, ci]), a valid correlation gives
 * dW[k - 1 - kh', k - 1 - kw'] at [co, kh', kw', ci]. XNNPACK packs the filter of every new
 * tensor, so this is taken where x is no larger than dy (ci <= co, as where a layer widens); and
 * no padded copy is made. Null where the padding does not fit this form (the caller takes the
 * general path).
 */
function filterGradientByCorrelation(
  run: Run,
  free: (...t: TensorInfo[]) => void,
  x: TensorInfo,
  dy: TensorInfo,
  [kh, kw]: [number, number, number, number],
  padInfo: { top: number; left: number },
): TensorInfo | null {
  const [, h, w] = x.shape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const sides = fullCorrelationPadding([kh, kw], padInfo, [h, w], [oh, ow]);
  if (!sides) return null;
  const input = run('Transpose', { x: dy }, { perm: [3, 1, 2, 0] });
  const filter = run('Transpose', { x }, { perm: [1, 2, 0, 3] });
  const r = correlate(run, input, filter, sides);
  const reversed = run('Reverse', { x: r }, { dims: [1, 2] });
  const dw = run('Transpose', { x: reversed }, { perm: [1, 2, 3, 0] });
  free(input, filter, r, reversed);
  return dw;
}

let originalBackpropInput: KernelFunc | null = null;

const conv2dBackpropInput: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as unknown as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  checkLayout(dataFormat, 'Conv2DBackpropInput');
  const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode);
  if (winogradFits(backend, filter.shape, info)) return winogradBackpropInput(backend, dy, filter);
  // Strided convolutions keep the backend's own kernel (they would need zeros between dy's rows).
  if ((info.strideHeight !== 1 || info.strideWidth !== 1) && originalBackpropInput) return originalBackpropInput(args);
  const [kh, kw] = filter.shape as [number, number, number, number];
  const [, h, w] = inputShape;
  // dx[i] = sum_k dy[i + top - k] * w[k]: dy padded so that a correlation with the rotated filter
  // gives h x w; padding past the filter's reach keeps the backend's own kernel.
  const sides = fullCorrelationPadding([kh, kw], info.padInfo, [h, w], [dy.shape[1] as number, dy.shape[2] as number]);
  if (!sides) {
    if (originalBackpropInput) return originalBackpropInput(args);
    throw new Error('Conv2DBackpropInput on wasm: padding wider than the filter is not supported');
  }
  const { run, free } = runner(backend);
  const rotated = run('Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = run('Transpose', { x: rotated }, { perm: [0, 1, 3, 2] });
  const dx = correlate(run, dy, swapped, sides);
  free(rotated, swapped);
  return dx;
};

let originalConv2D: KernelFunc | null = null;

/** The forward convolution: Winograd where it fits, the backend's own XNNPACK kernel elsewhere. */
const conv2d: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x, filter } = inputs as unknown as { x: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs as unknown as Conv2DAttrs;
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : (dilations ?? [1, 1]);
  if (
    dh === 1 &&
    dw === 1 &&
    (dataFormat ?? 'NHWC') === 'NHWC' &&
    winogradFits(backend, filter.shape, convInfo(x.shape, filter.shape, strides, pad, dimRoundingMode))
  )
    return winogradConv(backend, x, filter);
  if (!originalConv2D) throw new Error('the wasm backend has no Conv2D kernel');
  return originalConv2D(args);
};

/** Puts `kernelFunc` in place of the wasm backend's own kernel `name`, which it may call; returns that. */
function replaceKernel(name: string, kernelFunc: KernelFunc): KernelFunc | null {
  const shipped = getKernel(name, 'wasm');
  if (shipped) unregisterKernel(name, 'wasm');
  registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc, setupFunc: shipped?.setupFunc });
  return shipped?.kernelFunc ?? null;
}

let registering: Promise<void> | null = null;

/** Makes TF.js ready to train: every gradient, and the wasm backend's training kernels (once per process). */
export async function prepareTraining(): Promise<void> {
  await registerAllGradients();
  registering ??= registerWasmKernels();
  await registering;
}

async function registerWasmKernels(): Promise<void> {
  const kernels: KernelConfig[] = [
    { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter },
    { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: depthwiseBackpropFilter },
    { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: depthwiseBackpropInput },
  ];
  for (const k of kernels) if (!getKernel(k.kernelName, k.backendName)) registerKernel(k);
  await compileSimdKernels();
  originalBackpropInput = replaceKernel('Conv2DBackpropInput', conv2dBackpropInput);
  originalConv2D = replaceKernel('Conv2D', conv2d);
  const shippedMatMul = getKernel('BatchMatMul', 'wasm');
  if (shippedMatMul) replaceKernel('BatchMatMul', simdBatchMatMul(shippedMatMul.kernelFunc));
}
