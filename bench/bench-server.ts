import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const nm = (p: string) => path.join(root, 'node_modules', p);

/** URL prefix -> directory: the browser builds of TF.js and onnxruntime-web, straight from node_modules. */
const LIBS: Record<string, string> = {
  '/lib/tfjs-core/': nm('@tensorflow/tfjs-core/dist'),
  '/lib/tfjs-converter/': nm('@tensorflow/tfjs-converter/dist'),
  '/lib/tfjs-wasm/': nm('@tensorflow/tfjs-backend-wasm/dist'),
  '/lib/tfjs-webgpu/': nm('@tensorflow/tfjs-backend-webgpu/dist'),
  '/lib/ort/': nm('onnxruntime-web/dist'),
};

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/**
 * Serves the benchmark pages, the libraries and the models with COOP/COEP headers, so that
 * both runtimes may use WebAssembly threads (they need cross-origin isolation).
 */
export async function startBenchServer(modelsDir: string): Promise<{ url: string; close(): Promise<void> }> {
  const mounts: Record<string, string> = {
    ...LIBS,
    '/models/': modelsDir,
    '/': path.join(import.meta.dirname, 'pages'),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const prefix = Object.keys(mounts).find((p) => url.pathname.startsWith(p)) as string;
    const base = mounts[prefix] as string;
    const file = path.resolve(base, `.${url.pathname.slice(prefix.length - 1)}`);
    if (!file.startsWith(base) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
    });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
