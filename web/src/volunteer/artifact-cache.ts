/**
 * Downloads kept in Cache Storage and checked against their SHA-256 every time they are used, so a
 * reload (or the next shard on the same prior) does not fetch a model again, and a corrupted or
 * truncated entry is fetched anew instead of being computed with.
 */
const CACHE = 'coopt-artifacts-v1';

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export class HashMismatchError extends Error {}

export interface CachedFetchOptions {
  /** The expected hash; when absent, the server's `x-coopt-sha256` header is the reference. */
  sha256?: string;
  headers?: Record<string, string>;
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
}

/** The bytes at `url`, from the cache when a verified copy is there, else downloaded, verified and cached. */
export async function fetchCached(url: string, options: CachedFetchOptions = {}): Promise<Uint8Array> {
  const cache = typeof caches === 'undefined' ? null : await caches.open(CACHE).catch(() => null);
  const hit = await cache?.match(url);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    const expected = options.sha256 ?? hit.headers.get('x-coopt-sha256');
    if (expected && (await sha256Hex(bytes)) === expected) {
      options.onProgress?.(bytes.length, bytes.length);
      return bytes;
    }
    await cache?.delete(url);
  }
  const res = await fetch(url, { headers: options.headers });
  if (!res.ok) throw new HttpError(res.status, `${url} answered ${res.status}`);
  const bytes = await readWithProgress(res, options.onProgress);
  const expected = options.sha256 ?? res.headers.get('x-coopt-sha256');
  if (!expected) throw new HashMismatchError(`${url} came without a checksum`);
  const actual = await sha256Hex(bytes);
  if (actual !== expected) throw new HashMismatchError(`${url} has SHA-256 ${actual}, expected ${expected}`);
  await cache?.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'x-coopt-sha256': expected } }));
  return bytes;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readWithProgress(res: Response, onProgress?: (loaded: number, total: number) => void) {
  const total = Number(res.headers.get('content-length') ?? 0);
  if (!res.body || !onProgress) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress(loaded, Math.max(total, loaded));
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
