import * as tf from '@tensorflow/tfjs-core';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { prepareTraining } from './wasm-training-kernels.ts';

/** Where students train: `wasm` on the CPU (with the project's kernels), or `webgpu` on a GPU through Dawn. */
export type TrainingBackend = 'wasm' | 'webgpu';

let webgpu: Promise<void> | null = null;

/**
 * Gives Node a WebGPU adapter through Dawn's bindings (npm `webgpu`) and registers TF.js's WebGPU
 * backend on it. Dawn picks the machine's Vulkan driver; `VK_ICD_FILENAMES` can point it at one
 * (for example Chromium's SwiftShader ICD on a machine without a GPU).
 */
function startWebgpu(): Promise<void> {
  webgpu ??= (async () => {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const gpu = create([]);
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
    if (!(await (gpu as GPU).requestAdapter())) throw new Error('Dawn found no WebGPU adapter on this machine');
    await import('@tensorflow/tfjs-backend-webgpu');
  })();
  return webgpu;
}

/** Makes `backend` TF.js's active backend for training, or explains why it cannot be. */
export async function useTrainingBackend(backend: TrainingBackend): Promise<void> {
  await initTfjs();
  if (backend === 'webgpu') await startWebgpu();
  else await prepareTraining();
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js could not start its ${backend} backend`);
}
