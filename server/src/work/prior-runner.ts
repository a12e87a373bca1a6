import {
  type GraphModelArtifacts,
  loadConvertedModel,
  type PriorModelMetadata,
  preprocessImages,
} from '@coopt/shared/converter';
import { initTfjs, tf } from '../priors/tfjs-runtime.ts';

export interface PriorRun {
  artifacts: GraphModelArtifacts;
  meta: Pick<PriorModelMetadata, 'inputHeight' | 'inputWidth' | 'inputChannels' | 'pixelScale' | 'mean' | 'std'>;
  /** uint8 HWC pixels of `count` images of the dataset's shape. */
  pixels: Uint8Array;
  shape: [number, number, number, number];
  /** Target phase: float32 [featureDim, n] map then [n] bias; y = psi(x) T + b. */
  alignment?: { map: Float32Array; dim: number };
}

/** What a volunteer computes for a work item, in TF.js: preprocess, run the prior, align when targeting. */
export async function runPrior(run: PriorRun): Promise<Float32Array> {
  await initTfjs();
  const model = await loadConvertedModel(run.artifacts);
  const meta = {
    ...run.meta,
    inputLayout: 'NHWC',
    featureTensor: '',
    featureDim: 0,
    opset: 17,
    producer: '',
  } as PriorModelMetadata;
  try {
    return (await tf
      .tidy(() => {
        const x = preprocessImages(tf.tensor4d(run.pixels, run.shape, 'int32'), meta);
        let y = model.execute(x) as tf.Tensor2D;
        if (run.alignment) {
          const l = y.shape[1];
          const n = run.alignment.dim;
          y = tf.add(
            tf.matMul(y, tf.tensor2d(run.alignment.map.subarray(0, l * n), [l, n])),
            tf.tensor1d(run.alignment.map.subarray(l * n)),
          ) as tf.Tensor2D;
        }
        return tf.keep(y);
      })
      .data()) as Float32Array;
  } finally {
    model.dispose();
  }
}
