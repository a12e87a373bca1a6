import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createStudent } from './student-models.ts';
import { trainStudent } from './student-trainer.ts';
import { useTrainingBackend } from './training-backend.ts';

// This machine has no GPU: Dawn runs on Chromium's SwiftShader Vulkan driver, a real WebGPU
// implementation on the CPU (slow, but the same shaders and API a GPU runs).
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && fs.existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;

/** One step's loss and gradients of a seeded student on a fixed batch, on the active backend. */
async function lossAndGradients() {
  const student = createStudent('convnet', 1, 11);
  const x = tf.tensor4d(
    Float32Array.from({ length: 8 * 28 * 28 }, (_, i) => Math.sin(i * 0.013) + Math.cos(i * 0.0007)),
    [8, 28, 28, 1],
  );
  const target = tf.tensor2d(
    Float32Array.from({ length: 8 * 128 }, (_, i) => Math.cos(i * 0.1)),
    [8, 128],
  );
  const { value, grads } = tf.variableGrads(
    () => tf.mean(tf.square(tf.sub(student.encode(x, true), target))) as tf.Scalar,
    student.trainable,
  );
  const loss = ((await value.data()) as Float32Array)[0] as number;
  const gradients = await Promise.all(
    student.trainable.map(async (v) => (await grads[v.name]?.data()) as Float32Array),
  );
  tf.dispose([x, target, value, ...Object.values(grads)]);
  student.dispose();
  return { loss, gradients };
}

describe('training backends', () => {
  it('WebGPU through Dawn gives the loss and gradients the wasm backend gives, and trains a student', async () => {
    await useTrainingBackend('wasm');
    const onWasm = await lossAndGradients();
    await useTrainingBackend('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    const onGpu = await lossAndGradients();
    expect(onGpu.loss).toBeCloseTo(onWasm.loss, 3);
    onWasm.gradients.forEach((g, i) => {
      const other = onGpu.gradients[i] as Float32Array;
      const scale = Math.max(...Array.from(g, Math.abs), 1e-12);
      const worst = Math.max(...Array.from(g, (v, k) => Math.abs(v - (other[k] as number))));
      expect(worst / scale, `gradient ${i}`).toBeLessThan(1e-3);
    });

    const count = 64;
    const { student, history } = await trainStudent(
      {
        pixels: Uint8Array.from({ length: count * 784 }, (_, i) => (i * 37 + Math.floor(i / 784) * 11) % 256),
        shape: [count, 28, 28, 1],
        objective: {
          kind: 'regression',
          targets: Float32Array.from({ length: count * 4 }, (_, i) => Math.sin(i)),
          targetDim: 4,
        },
      },
      { architecture: 'convnet', epochs: 2, batchSize: 32, seed: 1 },
    );
    student.dispose();
    expect(history).toHaveLength(2);
    expect(history.every((h) => Number.isFinite(h.loss))).toBe(true);
    await useTrainingBackend('wasm');
  }, 300_000);
});
