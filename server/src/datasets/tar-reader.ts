import path from 'node:path';
import type { ByteReader } from './byte-reader.ts';

const BLOCK = 512;

export interface TarFile {
  /** Normalised relative path inside the archive. */
  path: string;
  /** Byte offset of the entry's header in the (decompressed) archive. */
  offset: number;
  data: Buffer;
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

/** Size field: octal text, or base-256 when the top bit of the first byte is set (GNU). */
function parseSize(block: Buffer): number {
  const field = block.subarray(124, 136);
  if (((field[0] as number) & 0x80) !== 0) {
    let v = (field[0] as number) & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + (field[i] as number);
    return v;
  }
  const text = cString(block, 124, 12).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = Number.parseInt(cString(block, 148, 8).trim() || 'NaN', 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  return sum === stored;
}

/** pax extended header records: "<len> <key>=<value>\n". Only `path` matters here. */
function paxPath(data: Buffer): string | null {
  let rest = data.toString('utf8');
  while (rest.length > 0) {
    const space = rest.indexOf(' ');
    const len = Number.parseInt(rest.slice(0, space), 10);
    if (!Number.isFinite(len) || len <= 0) return null;
    const record = rest.slice(space + 1, len - 1);
    if (record.startsWith('path=')) return record.slice(5);
    rest = rest.slice(len);
  }
  return null;
}

export interface TarLimits {
  maxEntryBytes: number;
}

/**
 * Streams the regular files of a ustar/pax/GNU tar archive. Paths that would land outside the
 * extraction directory, and links or devices, are refused with the entry's offset.
 */
export async function* readTar(reader: ByteReader, limits: TarLimits): AsyncIterable<TarFile> {
  let longName: string | null = null;
  for (;;) {
    const offset = reader.offset;
    const block = await reader.readUpTo(BLOCK);
    if (block.length === 0) throw reader.error('truncated: the archive ends without its end-of-archive blocks');
    if (block.length < BLOCK) throw reader.error('truncated: partial tar header', offset);
    if (block.every((b) => b === 0)) return;
    if (!checksumOk(block)) throw reader.error('not a tar header (bad checksum)', offset);

    const type = String.fromCharCode(block[156] as number);
    const size = parseSize(block);
    const prefix = cString(block, 345, 155);
    const rawName: string = longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100));
    longName = null;
    const padded = Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x' || type === 'L') {
      if (size > 1 << 20) throw reader.error(`extended header of ${size} bytes is too large`, offset);
      const data = await reader.readExactly(padded, 'an extended tar header');
      longName = type === 'L' ? cString(data, 0, size) : paxPath(data.subarray(0, size));
      continue;
    }
    if (type === 'g') {
      await reader.readExactly(padded, 'a global pax header');
      continue;
    }

    const safe = safeRelativePath(rawName);
    if (safe === null) throw reader.error(`entry "${rawName}" escapes the target directory`, offset);
    if (type === '5') continue;
    if (type !== '0' && type !== '\0' && type !== '7') {
      const kind = type === '1' ? 'a hard link' : type === '2' ? 'a symbolic link' : `of tar type "${type}"`;
      throw reader.error(`entry "${rawName}" is ${kind}, not a regular file`, offset);
    }
    if (size > limits.maxEntryBytes) {
      throw reader.error(`entry "${rawName}" is ${size} bytes, over the ${limits.maxEntryBytes}-byte limit`, offset);
    }
    const body = await reader.readExactly(padded, `the data of entry "${rawName}"`);
    yield { path: safe, offset, data: body.subarray(0, size) };
  }
}

/** A relative path with no way out of its root, or null. */
export function safeRelativePath(name: string): string | null {
  if (name.includes('\0') || name.includes('\\')) return null;
  if (name.startsWith('/')) return null;
  const normal = path.posix.normalize(name);
  if (normal === '..' || normal.startsWith('../')) return null;
  return normal.replace(/^\.\//, '').replace(/\/$/, '');
}
