import { backend_util, getKernel, type TensorInfo } from '@tensorflow/tfjs-core';

/**
 * How the project's wasm training kernels call the backend's own kernels directly (no engine, no
 * tape), and the convolution geometry and checks they share.
 */
type Backend = { disposeData(dataId: object, force?: boolean): boolean };
export type Run = (name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) => TensorInfo;

export function runner(backend: unknown): { run: Run; free: (...t: TensorInfo[]) => void } {
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

export function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: unknown,
  dimRoundingMode?: string,
  depthwise = false,
) {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad as 'same',
    dimRoundingMode as 'round',
    depthwise,
    'channelsLast',
  );
}

export function checkDilations(dilations: number | [number, number] | undefined, name: string) {
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : (dilations ?? [1, 1]);
  if (dh !== 1 || dw !== 1) throw new Error(`${name} on wasm: dilations other than 1 are not supported`);
}

export function checkLayout(dataFormat: string | undefined, name: string) {
  if (dataFormat && dataFormat !== 'NHWC') throw new Error(`${name} on wasm: ${dataFormat} is not supported`);
}

/** x zero-padded on its two spatial axes as a convolution's padding says (a negative far side is none). */
export function padSpatial(
  run: Run,
  x: TensorInfo,
  { top, bottom, left, right }: { top: number; bottom: number; left: number; right: number },
): TensorInfo {
  return run(
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
}

/**
 * The padding that makes a stride-1 correlation of an `outer`-sized map with a k-tap filter give
 * back the `inner` size a convolution with padding `before` came from: k - 1 - before ahead, the
 * rest behind. Null where a side would be negative (padding past the filter's reach).
 */
export function fullCorrelationPadding(
  [kh, kw]: [number, number],
  { top, left }: { top: number; left: number },
  [h, w]: [number, number],
  [oh, ow]: [number, number],
): [number, number][] | null {
  const padTop = kh - 1 - top;
  const padLeft = kw - 1 - left;
  const sides: [number, number][] = [
    [padTop, h + kh - 1 - oh - padTop],
    [padLeft, w + kw - 1 - ow - padLeft],
  ];
  return sides.flat().some((p) => p < 0) ? null : sides;
}

/** A stride-1 NHWC correlation of x with filter, zero-padded by the convolution itself (no padded copy). */
export function correlate(run: Run, x: TensorInfo, filter: TensorInfo, sides: [number, number][]): TensorInfo {
  return run(
    'Conv2D',
    { x, filter },
    { strides: [1, 1], pad: [[0, 0], ...sides, [0, 0]], dataFormat: 'NHWC', dilations: [1, 1] },
  );
}
