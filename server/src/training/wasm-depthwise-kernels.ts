import type {
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { checkDilations, convInfo, padSpatial, type Run, runner } from './wasm-kernel-runner.ts';

/**
 * The depthwise convolution gradients the wasm backend does not ship, from its own kernels:
 *
 * - depthwise input gradient: the "full" correlation of the input gradient, but depthwise (one
 *   filter per channel), with dy first spread by the stride (zeros between its rows and columns);
 *   with a channel multiplier m, one depthwise correlation per multiplier, summed;
 * - depthwise filter gradient: dW[kh, kw, c, q] = sum over b, oh, ow of
 *   xpad[b, oh*s + kh, ow*s + kw, c] * dy[b, oh, ow, c*m + q]: per filter tap, a strided slice of
 *   the padded input times dy, summed over every position by one matrix product with a ones column.
 */
export const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as unknown as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dilations, dimRoundingMode, filterShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  checkDilations(dilations, 'DepthwiseConv2dNativeBackpropFilter');
  const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode, true);
  const [kh, kw, channels, multiplier] = filterShape;
  const [batch] = x.shape as number[];
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  const positions = (batch as number) * outHeight * outWidth;
  const { run, free } = runner(backend);
  const xp = padSpatial(run, x, info.padInfo);
  // dy as [positions, channels, multiplier], so each input channel meets its m output channels.
  const dy3 = run('Reshape', { x: dy }, { shape: [positions, channels, multiplier] });
  const ones = run('Fill', {}, { shape: [positions, 1], value: 1, dtype: 'float32' });
  const taps: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      // The inputs this tap meets at every output position: a strided window of the padded input.
      const window = run(
        'StridedSlice',
        { x: xp },
        {
          begin: [0, i, j, 0],
          end: [batch, i + (outHeight - 1) * strideHeight + 1, j + (outWidth - 1) * strideWidth + 1, channels],
          strides: [1, strideHeight, strideWidth, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
      const window3 = run('Reshape', { x: window }, { shape: [positions, channels, 1] });
      const product = run('Multiply', { a: dy3, b: window3 }, {});
      const flat = run('Reshape', { x: product }, { shape: [positions, channels * multiplier] });
      // Column sums as one matrix product: [channels * m, positions] x [positions, 1].
      const sums = run('BatchMatMul', { a: flat, b: ones }, { transposeA: true, transposeB: false });
      taps.push(run('Reshape', { x: sums }, { shape: [1, channels * multiplier] }));
      free(window, window3, product, flat, sums);
    }
  }
  const stacked = run('Concat', taps as unknown as Record<string, TensorInfo>, { axis: 0 });
  const dw = run('Reshape', { x: stacked }, { shape: filterShape });
  free(xp, dy3, ones, stacked, ...taps);
  return dw;
};

/** Pads (amount > 0) or crops (amount < 0) each side of the two spatial axes of an NHWC tensor. */
function padOrCrop(
  run: Run,
  free: (...t: TensorInfo[]) => void,
  x: TensorInfo,
  [top, bottom, left, right]: [number, number, number, number],
): TensorInfo {
  const padded = run(
    'PadV2',
    { x },
    {
      paddings: [
        [0, 0],
        [Math.max(0, top), Math.max(0, bottom)],
        [Math.max(0, left), Math.max(0, right)],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
  if (Math.min(top, bottom, left, right) >= 0) return padded;
  const [n, h, w, c] = padded.shape as [number, number, number, number];
  const cropTop = Math.max(0, -top);
  const cropLeft = Math.max(0, -left);
  const cropped = run(
    'Slice',
    { x: padded },
    {
      begin: [0, cropTop, cropLeft, 0],
      size: [n, h - cropTop - Math.max(0, -bottom), w - cropLeft - Math.max(0, -right), c],
    },
  );
  free(padded);
  return cropped;
}

export const depthwiseBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as unknown as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dilations, dimRoundingMode, inputShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  checkDilations(dilations, 'DepthwiseConv2dNativeBackpropInput');
  const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, true);
  const [kh, kw, channels, multiplier] = filter.shape as [number, number, number, number];
  const [batch, h, w] = inputShape;
  const { outHeight, outWidth, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const { run, free } = runner(backend);
  // Spread dy by the stride: [n, oh, 1, ow, 1, c] padded with zeros to [n, oh, sh, ow, sw, c].
  let spread = dy;
  if (sh !== 1 || sw !== 1) {
    const six = run('Reshape', { x: dy }, { shape: [batch, outHeight, 1, outWidth, 1, channels * multiplier] });
    const zeros = run(
      'PadV2',
      { x: six },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    spread = run('Reshape', { x: zeros }, { shape: [batch, outHeight * sh, outWidth * sw, channels * multiplier] });
    free(six, zeros);
  }
  // dx[i] = sum_k spread[i + top - k] * w[k]: pad (or crop) so a valid correlation with the
  // rotated filter gives h x w; rows past h - 1 + top reach no input.
  const padTop = kh - 1 - top;
  const padLeft = kw - 1 - left;
  const sized = padOrCrop(run, free, spread, [
    padTop,
    h + kh - 1 - padTop - (spread.shape[1] as number),
    padLeft,
    w + kw - 1 - padLeft - (spread.shape[2] as number),
  ]);
  if (spread !== dy) free(spread);
  const rotated = run('Reverse', { x: filter }, { dims: [0, 1] });
  const depthwise = (x: TensorInfo, f: TensorInfo) =>
    run(
      'DepthwiseConv2dNative',
      { x, filter: f },
      { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC' },
    );
  if (multiplier === 1) {
    const dx = depthwise(sized, rotated);
    free(sized, rotated);
    return dx;
  }
  // One depthwise correlation per multiplier q (dy's channels c*m + q), summed.
  const [, ph, pw] = sized.shape as [number, number, number, number];
  const positions = batch * ph * pw;
  const sized2 = run('Reshape', { x: sized }, { shape: [positions * channels, multiplier] });
  const rotated2 = run('Reshape', { x: rotated }, { shape: [kh * kw * channels, multiplier] });
  const byQ = run('Transpose', { x: sized2 }, { perm: [1, 0] });
  const filtersByQ = run('Transpose', { x: rotated2 }, { perm: [1, 0] });
  let dx: TensorInfo | null = null;
  for (let q = 0; q < multiplier; q++) {
    const part = run('Slice', { x: byQ }, { begin: [q, 0], size: [1, positions * channels] });
    const fq = run('Slice', { x: filtersByQ }, { begin: [q, 0], size: [1, kh * kw * channels] });
    const xq = run('Reshape', { x: part }, { shape: [batch, ph, pw, channels] });
    const wq = run('Reshape', { x: fq }, { shape: [kh, kw, channels, 1] });
    const term = depthwise(xq, wq);
    free(part, fq, xq, wq);
    if (dx) {
      const sum = run('Add', { a: dx, b: term }, {});
      free(dx, term);
      dx = sum;
    } else dx = term;
  }
  free(sized, rotated, sized2, rotated2, byQ, filtersByQ);
  return dx as TensorInfo;
};
