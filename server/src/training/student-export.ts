import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  BATCH_NORM_EPSILON,
  BATCH_NORM_MOMENTUM,
  type ConvUnit,
  type Student,
  type StudentLayer,
} from './student-models.ts';

export interface StudentFiles {
  /** `model.json`: the Keras-style topology and a weights manifest pointing at `weights.bin`. */
  modelJson: Uint8Array;
  weights: Uint8Array;
}

export interface StudentInput {
  height: number;
  width: number;
  channels: number;
  /** The pixel normalisation the student was trained with: (x / 255 - mean) / std. */
  mean: number;
  std: number;
}

/**
 * A trained student as TF.js layers-model files, loadable with `tf.loadLayersModel` (and by the
 * tensorflowjs converter into Keras): the same layers as `Student.layers`, with the trained weights
 * and the running batch-norm statistics, ending in the global average that gives the features.
 */
export async function exportStudent(student: Student, input: StudentInput): Promise<StudentFiles> {
  const x = tfl.input({ shape: [input.height, input.width, input.channels], name: 'images' });
  const assignments: [tfl.layers.Layer, tf.Variable[]][] = [];
  let count = 0;
  const name = (kind: string) => `${kind}_${++count}`;

  /** A bias-free 'same' convolution carrying `kernel` ([k, k, cin, cout]). */
  const conv = (kernel: tf.Variable, h: tfl.SymbolicTensor, kind: string): tfl.SymbolicTensor => {
    const [size, , , filters] = kernel.shape as number[];
    const layer = tfl.layers.conv2d({
      filters: filters as number,
      kernelSize: size as number,
      padding: 'same',
      useBias: false,
      name: name(kind),
    });
    assignments.push([layer, [kernel]]);
    return layer.apply(h) as tfl.SymbolicTensor;
  };
  const convNorm = (unit: ConvUnit, h: tfl.SymbolicTensor): tfl.SymbolicTensor => {
    const norm = tfl.layers.batchNormalization({
      epsilon: BATCH_NORM_EPSILON,
      momentum: BATCH_NORM_MOMENTUM,
      name: name('norm'),
    });
    assignments.push([norm, [unit.norm.gamma, unit.norm.beta, unit.norm.mean, unit.norm.variance]]);
    return norm.apply(conv(unit.kernel, h, 'conv')) as tfl.SymbolicTensor;
  };
  const relu = (h: tfl.SymbolicTensor) =>
    tfl.layers.activation({ activation: 'relu', name: name('relu') }).apply(h) as tfl.SymbolicTensor;

  const layer = (l: StudentLayer, h: tfl.SymbolicTensor): tfl.SymbolicTensor => {
    switch (l.kind) {
      case 'conv':
        return relu(convNorm(l.unit, h));
      case 'pool': {
        const options = { poolSize: 2, strides: 2, padding: 'same' as const, name: name(`${l.mode}_pool`) };
        return (l.mode === 'max' ? tfl.layers.maxPooling2d(options) : tfl.layers.averagePooling2d(options)).apply(
          h,
        ) as tfl.SymbolicTensor;
      }
      case 'residual': {
        const y = convNorm(l.second, relu(convNorm(l.first, h)));
        const shortcut = l.project ? conv(l.project, h, 'project') : h;
        return relu(tfl.layers.add({ name: name('add') }).apply([y, shortcut]) as tfl.SymbolicTensor);
      }
    }
  };

  let h: tfl.SymbolicTensor = x;
  for (const l of student.layers) h = layer(l, h);
  const features = tfl.layers.globalAveragePooling2d({ name: 'features' }).apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: x, outputs: features, name: `coopt_${student.architecture}` });
  for (const [l, vars] of assignments) l.setWeights(vars.map((v) => v as tf.Tensor));

  let files: StudentFiles | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(artifacts.weightData as ArrayBuffer);
      const json = {
        format: 'layers-model',
        generatedBy: 'coopt',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        userDefinedMetadata: {
          architecture: student.architecture,
          featureDim: student.featureDim,
          input: `float32 NHWC [batch, ${input.height}, ${input.width}, ${input.channels}]: (pixel / 255 - ${input.mean}) / ${input.std}`,
        },
      };
      files = { modelJson: new TextEncoder().encode(JSON.stringify(json)), weights };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  if (!files) throw new Error('the student was not saved');
  return files;
}
