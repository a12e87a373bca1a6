import {
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropFilterInputs,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  registerKernel,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; training needs all of them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';

/**
 * Training kernels that TF.js's wasm backend lacks, so convnets can train on it.
 *
 * Conv2DBackpropFilter (the filter gradient of every convolution) is the 3-D filter gradient that
 * the wasm backend does ship, on a depth of one: x [b, h, w, c] is viewed as [b, 1, h, w, c] and dy
 * likewise, and the [1, kh, kw, ci, co] result is the [kh, kw, ci, co] gradient. The views only
 * relabel shapes over the same wasm buffers, so nothing is copied.
 */
const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as unknown as Record<keyof Conv2DBackpropFilterInputs, TensorInfo>;
  const { strides, pad, dataFormat, filterShape, dilations } = attrs as unknown as Conv2DBackpropFilterAttrs & {
    dilations?: number | [number, number];
  };
  if (dataFormat && dataFormat !== 'NHWC')
    throw new Error(`Conv2DBackpropFilter on wasm: ${dataFormat} is not supported`);
  if (typeof pad !== 'string' && typeof pad !== 'number') {
    throw new Error('Conv2DBackpropFilter on wasm: explicit per-side padding is not supported');
  }
  const dilation = typeof dilations === 'number' ? dilations : (dilations ?? [1, 1]);
  if (typeof dilation !== 'number' && (dilation[0] !== 1 || dilation[1] !== 1)) {
    throw new Error('Conv2DBackpropFilter on wasm: dilated convolutions are not supported');
  }
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const [kh, kw, ci, fo] = filterShape;
  // The wasm 3-D filter gradient is wrong for strides above 1 at filter offsets other than the
  // first (checked against the cpu backend), so strided convolutions must be 1x1; the students
  // downsample by pooling instead.
  if ((sh !== 1 || sw !== 1) && (kh !== 1 || kw !== 1)) {
    throw new Error(
      `Conv2DBackpropFilter on wasm: a ${kh}x${kw} filter with stride ${sh}x${sw} is not supported; use stride 1 and pool, or a 1x1 filter`,
    );
  }
  const conv3d = getKernel('Conv3DBackpropFilterV2', 'wasm');
  if (!conv3d) throw new Error('the wasm backend has no Conv3DBackpropFilterV2 kernel');
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const [, oh, ow, co] = dy.shape as [number, number, number, number];
  const dw = conv3d.kernelFunc({
    inputs: {
      x: { dataId: x.dataId, dtype: x.dtype, shape: [b, 1, h, w, c] },
      dy: { dataId: dy.dataId, dtype: dy.dtype, shape: [b, 1, oh, ow, co] },
    },
    backend,
    attrs: { strides: [1, sh, sw], pad, filterShape: [1, kh, kw, ci, fo] },
  }) as TensorInfo;
  return { dataId: dw.dataId, dtype: dw.dtype, shape: filterShape };
};

const kernels: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter },
];

let registered = false;

/** Registers the missing training kernels for the wasm backend (once per process). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const k of kernels) if (!getKernel(k.kernelName, k.backendName)) registerKernel(k);
}
