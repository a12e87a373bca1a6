import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ByteReader } from './byte-reader.ts';
import type { ByteSource } from './byte-source.ts';
import { DatasetFileError } from './dataset-file-error.ts';
import { decodeImage, ImageDecodeError, sniffImage, toShape } from './image-decoder.ts';
import { type ImageShape, MAX_IMAGE_SIDE, type SampleBatch, type SampleStream } from './sample-stream.ts';
import { readTar } from './tar-reader.ts';

interface ImageFile {
  /** Relative path inside the folder or archive. */
  path: string;
  /** What error messages call the file. */
  displayName: string;
  offset: number;
  data: Buffer;
}

export type ImageFolderInput = { kind: 'directory'; path: string } | { kind: 'tar'; source: ByteSource };

const MAX_FILE_BYTES = 64 << 20;

async function* directoryFiles(root: string): AsyncIterable<ImageFile> {
  const rels = (await fsp.readdir(root, { recursive: true, withFileTypes: true }))
    .map((d) => ({ d, rel: path.relative(root, path.join(d.parentPath, d.name)) }))
    .sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  for (const { d, rel } of rels) {
    const full = path.join(root, rel);
    if (d.isDirectory()) continue;
    if (!d.isFile()) throw new DatasetFileError(full, null, 'not a regular file (links are not followed)');
    const st = fs.statSync(full);
    if (st.size > MAX_FILE_BYTES) {
      throw new DatasetFileError(full, 0, `file is ${st.size} bytes, over the ${MAX_FILE_BYTES}-byte limit`);
    }
    yield { path: rel.split(path.sep).join('/'), displayName: full, offset: 0, data: await fsp.readFile(full) };
  }
}

async function* tarFiles(source: ByteSource): AsyncIterable<ImageFile> {
  const reader = await ByteReader.open(source);
  for await (const entry of readTar(reader, { maxEntryBytes: MAX_FILE_BYTES })) {
    yield {
      path: entry.path,
      displayName: `${source.name}: entry "${entry.path}"`,
      offset: entry.offset,
      data: entry.data,
    };
  }
}

/**
 * A folder or tar of PNG/JPEG images. Every image is resized to one shape (the first image's,
 * unless given). When every image sits in a sub-directory and there are at least two, the
 * sub-directory names are the class labels (the ImageFolder layout).
 */
export async function readImageFolder(
  input: ImageFolderInput,
  options: { batchSize: number; size?: { width: number; height: number } },
): Promise<SampleStream> {
  const files = (input.kind === 'directory' ? directoryFiles(input.path) : tarFiles(input.source))[
    Symbol.asyncIterator
  ]();
  const where = input.kind === 'directory' ? input.path : input.source.name;

  const decode = (file: ImageFile) => {
    const kind = sniffImage(file.data);
    const at = input.kind === 'tar' ? file.offset : 0;
    const name = input.kind === 'tar' ? (input.source.name as string) : file.displayName;
    const prefix = input.kind === 'tar' ? `entry "${file.path}" ` : '';
    if (!kind) throw new DatasetFileError(name, at, `${prefix}is not a PNG or JPEG image`);
    try {
      return decodeImage(file.data, kind);
    } catch (err) {
      if (err instanceof ImageDecodeError) throw new DatasetFileError(name, at, `${prefix}${err.message}`);
      throw err;
    }
  };

  const first = await files.next();
  if (first.done) throw new DatasetFileError(where, null, 'holds no images');
  const firstImage = decode(first.value);
  const size = options.size ?? { width: firstImage.width, height: firstImage.height };
  if (size.width > MAX_IMAGE_SIDE || size.height > MAX_IMAGE_SIDE) {
    throw new DatasetFileError(
      where,
      null,
      `images are ${size.width}x${size.height}; give a size of at most ${MAX_IMAGE_SIDE} per side to resize them`,
    );
  }
  const shape: ImageShape = { height: size.height, width: size.width, channels: firstImage.channels };
  const classes = new Map<string, number>();
  let unfiled = 0;

  const classOf = (file: ImageFile): number => {
    const dir = path.posix.dirname(file.path);
    if (dir === '.') {
      unfiled++;
      return -1;
    }
    const name = path.posix.basename(dir);
    let id = classes.get(name);
    if (id === undefined) {
      id = classes.size;
      classes.set(name, id);
    }
    return id;
  };

  async function* batches(): AsyncIterable<SampleBatch> {
    const per = shape.height * shape.width * shape.channels;
    let pixels = new Uint8Array(options.batchSize * per);
    let labels = new Int32Array(options.batchSize);
    let n = 0;
    const add = (file: ImageFile, img: ReturnType<typeof decode>) => {
      pixels.set(toShape(img, shape.width, shape.height, shape.channels), n * per);
      labels[n] = classOf(file);
      n++;
    };
    add(first.value as ImageFile, firstImage);
    for (let r = await files.next(); !r.done; r = await files.next()) {
      if (n === options.batchSize) {
        yield { count: n, pixels, labels };
        pixels = new Uint8Array(options.batchSize * per);
        labels = new Int32Array(options.batchSize);
        n = 0;
      }
      add(r.value, decode(r.value));
    }
    if (n > 0) yield { count: n, pixels: pixels.subarray(0, n * per), labels: labels.subarray(0, n) };
  }

  return {
    shape,
    total: null,
    batches: batches(),
    classNames: () => (unfiled === 0 && classes.size >= 2 ? [...classes.keys()] : null),
  };
}
