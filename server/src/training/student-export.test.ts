import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { exportStudent } from './student-export.ts';
import { createStudent } from './student-models.ts';

describe('trained students as TF.js model files', () => {
  beforeAll(async () => {
    await initTfjs();
    await tf.setBackend('wasm');
  });

  for (const architecture of ['convnet', 'resnet'] as const) {
    it(`a ${architecture} loads with tf.loadLayersModel and gives the encoder's features`, async () => {
      const student = createStudent(architecture, 1, 7);
      const x = tf.randomNormal([6, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
      // Training-mode passes move the running batch-norm statistics away from 0 and 1.
      for (let i = 0; i < 3; i++) tf.tidy(() => student.encode(tf.mul(x, 1 + i) as tf.Tensor4D, true));
      const files = await exportStudent(student, { height: 28, width: 28, channels: 1, mean: 0.3, std: 0.35 });
      const json = JSON.parse(new TextDecoder().decode(files.modelJson));
      expect(json.format).toBe('layers-model');
      expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
      expect(json.userDefinedMetadata.input).toContain('(pixel / 255 - 0.3) / 0.35');
      const model = await tfl.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: files.weights.buffer.slice(
            files.weights.byteOffset,
            files.weights.byteOffset + files.weights.byteLength,
          ) as ArrayBuffer,
        }),
      );
      const expected = student.encode(x, false);
      const loaded = model.predict(x) as tf.Tensor;
      expect(loaded.shape).toEqual([6, 128]);
      const e = (await expected.data()) as Float32Array;
      const l = (await loaded.data()) as Float32Array;
      const scale = Math.max(...Array.from(e, Math.abs));
      const worst = Math.max(...Array.from(e, (v, i) => Math.abs(v - (l[i] as number))));
      expect(worst / scale).toBeLessThan(1e-4);
      tf.dispose([x, expected, loaded]);
      model.dispose();
      student.dispose();
    });
  }
});
