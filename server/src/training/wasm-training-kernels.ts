import {
  backend_util,
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

/**
 * Training kernels for TF.js's wasm backend, built from its own fast forward kernels (XNNPACK
 * convolution, transpose, pad, reverse), so convnets train on it at forward-pass speed.
 *
 * The wasm backend ships no Conv2DBackpropFilter, and its Conv2DBackpropInput is a plain loop
 * about ten times slower than its forward convolution. Both gradients are convolutions themselves:
 *
 * - filter gradient: dW[kh, kw, ci, co] = sum over b, oh, ow of xpad[b, oh*s + kh, ow*s + kw, ci] * dy[b, oh, ow, co],
 *   which is a forward convolution of xpad with batch and channels swapped ([ci, H, W, b]) by dy
 *   laid out as a filter ([oh, ow, b, co], dilated by the stride);
 * - input gradient (stride 1): dx = conv(dy padded by k - 1 - pad, w rotated 180 degrees with its
 *   channel axes swapped), a "full" correlation.
 */
type Backend = { disposeData(dataId: object, force?: boolean): boolean };
type Run = (name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) => TensorInfo;

function runner(backend: unknown): { run: Run; free: (...t: TensorInfo[]) => void } {
  return {
    run: (name, inputs, attrs) => {
      const k = getKernel(name, 'wasm');
      if (!k) throw new Error(`the wasm backend has no ${name} kernel`);
      return k.kernelFunc({ inputs, backend: backend as never, attrs: attrs as never }) as TensorInfo;
    },
    free: (...t) => {
      for (const i of t) (backend as Backend).disposeData(i.dataId);
    },
  };
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: unknown,
  dimRoundingMode?: string,
) {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad as 'same',
    dimRoundingMode as 'round',
    false,
    'channelsLast',
  );
}

function checkLayout(dataFormat: string | undefined, name: string) {
  if (dataFormat && dataFormat !== 'NHWC') throw new Error(`${name} on wasm: ${dataFormat} is not supported`);
}

const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as unknown as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  checkLayout(dataFormat, 'Conv2DBackpropFilter');
  const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode);
  const { top, bottom, left, right } = info.padInfo;
  const { run, free } = runner(backend);
  const xp = run(
    'PadV2',
    { x },
    {
      paddings: [
        [0, 0],
        [top, Math.max(0, bottom)],
        [left, Math.max(0, right)],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
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

let originalBackpropInput: KernelFunc | null = null;

const conv2dBackpropInput: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as unknown as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  checkLayout(dataFormat, 'Conv2DBackpropInput');
  const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode);
  // Strided convolutions keep the backend's own kernel (they would need zeros between dy's rows).
  if ((info.strideHeight !== 1 || info.strideWidth !== 1) && originalBackpropInput) return originalBackpropInput(args);
  const [kh, kw] = filter.shape as [number, number, number, number];
  const { top, left } = info.padInfo;
  const [, h, w] = inputShape;
  const { run, free } = runner(backend);
  // dx[i] = sum_k dy[i + top - k] * w[k]: pad dy so that a valid correlation with the rotated filter gives h x w.
  const padTop = kh - 1 - top;
  const padLeft = kw - 1 - left;
  const padBottom = h + kh - 1 - padTop - (dy.shape[1] as number);
  const padRight = w + kw - 1 - padLeft - (dy.shape[2] as number);
  const dyp = run(
    'PadV2',
    { x: dy },
    {
      paddings: [
        [0, 0],
        [padTop, padBottom],
        [padLeft, padRight],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
  const rotated = run('Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = run('Transpose', { x: rotated }, { perm: [0, 1, 3, 2] });
  const dx = run(
    'Conv2D',
    { x: dyp, filter: swapped },
    { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
  );
  free(dyp, rotated, swapped);
  return dx;
};

let registered = false;

/** Makes TF.js ready to train: every gradient, and the wasm backend's training kernels (once per process). */
export async function prepareTraining(): Promise<void> {
  await registerAllGradients();
  if (registered) return;
  registered = true;
  const kernels: KernelConfig[] = [
    { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter },
  ];
  const shipped = getKernel('Conv2DBackpropInput', 'wasm');
  if (shipped) {
    originalBackpropInput = shipped.kernelFunc;
    unregisterKernel('Conv2DBackpropInput', 'wasm');
  }
  kernels.push({
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: conv2dBackpropInput,
    setupFunc: shipped?.setupFunc,
  });
  for (const k of kernels) if (!getKernel(k.kernelName, k.backendName)) registerKernel(k);
}
