import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** Blob directories this process made or found; most blobs land in one that exists already. */
const knownDirs = new Set<string>();

/** Makes a blob's directory (and its parent) unless this process already knows it. */
export async function ensureDir(dir: string): Promise<void> {
  if (knownDirs.has(dir)) return;
  await fsp.mkdir(dir, { recursive: true });
  if (knownDirs.size >= 70_000) knownDirs.clear();
  knownDirs.add(dir);
}

/**
 * Puts a complete, flushed temporary file in place as the blob `to`: a hard link, a flush of the
 * directory (so the name is as durable as the bytes before anyone records the key; on ext4 that
 * one journal commit also carries any directories just made), then the temporary name is removed.
 *
 * Keys are content hashes, so a blob already there holds these very bytes (a retry, or a replica
 * that agreed bit for bit) and is kept: renaming over it would free its blocks inside the call,
 * which on a filesystem mounted with `discard` waits for the disk to trim them (milliseconds for
 * an upload). The unneeded copy is removed after the call returns instead.
 */
export async function placeBlob(from: string, to: string): Promise<void> {
  const dir = path.dirname(to);
  await ensureDir(dir);
  try {
    await fsp.link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      fsp.rm(from, { force: true }).catch(() => undefined);
      return;
    }
    // Its directory was removed behind this process's back: make it again.
    if (code !== 'ENOENT' || !fs.existsSync(from)) throw err;
    knownDirs.delete(dir);
    return placeBlob(from, to);
  }
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  // Still linked under its key, so removing this name frees nothing.
  await fsp.unlink(from);
}
