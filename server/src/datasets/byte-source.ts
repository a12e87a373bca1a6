import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobStore } from '../blobs/blob-store.ts';

/** Where the bytes of one input file come from: a path on disk or an uploaded blob. */
export interface ByteSource {
  /** Used in every error message, so it names what the admin gave us. */
  name: string;
  /** Size in bytes where known without reading (files and blobs; not pipes). */
  size: number | null;
  open(): Promise<Readable>;
}

export function fileSource(filePath: string): ByteSource {
  const st = fs.statSync(filePath);
  return {
    name: filePath,
    size: st.isFile() ? st.size : null,
    open: async () => fs.createReadStream(filePath, { highWaterMark: 1 << 20 }),
  };
}

export async function blobByteSource(store: BlobStore, key: string, fileName?: string): Promise<ByteSource> {
  const info = await store.stat(key);
  return {
    name: fileName ? path.basename(fileName) : `upload ${key.slice(0, 12)}`,
    size: info?.size ?? null,
    open: () => store.stream(key),
  };
}
