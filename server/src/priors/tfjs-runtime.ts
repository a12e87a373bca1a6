import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

let ready: Promise<'wasm' | 'cpu'> | null = null;

/**
 * TF.js for the server: the wasm backend (fast inference) where it starts, the plain cpu backend
 * otherwise. Started once per process.
 */
export function initTfjs(): Promise<'wasm' | 'cpu'> {
  ready ??= (async () => {
    const require = createRequire(import.meta.url);
    const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
    setWasmPaths(wasmDir);
    try {
      if (await tf.setBackend('wasm')) return 'wasm';
    } catch {
      // fall through to cpu
    }
    await tf.setBackend('cpu');
    return 'cpu';
  })();
  return ready;
}

export { tf };
