/** What this browser can compute with, best first: WebGPU, then WebGL, then WASM. */
export interface DeviceProbe {
  backend: 'webgpu' | 'webgl' | 'wasm';
  adapter: string | null;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number } | null;
  cores: number;
}

export async function probeDevice(): Promise<DeviceProbe> {
  const cores = navigator.hardwareConcurrency || 1;
  if (navigator.gpu) {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
    if (adapter) {
      const info = adapter.info;
      const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'WebGPU adapter';
      return {
        backend: 'webgpu',
        adapter: name,
        limits: {
          maxBufferSize: adapter.limits.maxBufferSize,
          maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        },
        cores,
      };
    }
  }
  const gl = document.createElement('canvas').getContext('webgl2');
  if (gl) return { backend: 'webgl', adapter: String(gl.getParameter(gl.RENDERER)), limits: null, cores };
  return { backend: 'wasm', adapter: null, limits: null, cores };
}
