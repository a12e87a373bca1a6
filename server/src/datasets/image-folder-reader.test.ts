import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gzip, jpegImage, pngImage, tarArchive } from '../test/dataset-files.ts';
import { fileSource } from './byte-source.ts';
import { readImageFolder } from './image-folder-reader.ts';
import type { SampleStream } from './sample-stream.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-images-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function put(rel: string, bytes: Uint8Array) {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, bytes);
  return p;
}

async function drain(stream: SampleStream) {
  const pixels: Uint8Array[] = [];
  const labels: number[] = [];
  for await (const b of stream.batches) {
    pixels.push(b.pixels.slice());
    labels.push(...(b.labels ?? []));
  }
  return { pixels: Buffer.concat(pixels), labels, count: labels.length };
}

const tarStream = (name: string, bytes: Uint8Array) =>
  readImageFolder({ kind: 'tar', source: fileSource(put(name, bytes)) }, { batchSize: 2 });

describe('image folder reader', () => {
  it('reads an ImageFolder directory: pixels exact, sub-directories become classes', async () => {
    const cat = pngImage(4, 3, false, 1);
    const dog1 = pngImage(4, 3, false, 2);
    const dog2 = pngImage(4, 3, false, 3);
    put('folder/cat/a.png', cat.file);
    put('folder/dog/b.png', dog1.file);
    put('folder/dog/c.png', dog2.file);
    const stream = await readImageFolder({ kind: 'directory', path: path.join(dir, 'folder') }, { batchSize: 2 });
    expect(stream.shape).toEqual({ height: 3, width: 4, channels: 3 });
    const out = await drain(stream);
    expect(out.labels).toEqual([0, 1, 1]);
    expect(stream.classNames()).toEqual(['cat', 'dog']);
    expect(Buffer.compare(out.pixels, Buffer.concat([cat.pixels, dog1.pixels, dog2.pixels]))).toBe(0);
  });

  it('reads a tar.gz made by the system tar, resizing JPEG and PNG to the requested size', async () => {
    put('mixed/x.jpg', jpegImage(16, 12));
    put('mixed/y.png', pngImage(8, 8, false).file);
    const archive = path.join(dir, 'mixed.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', path.join(dir, 'mixed'), '.']);
    const stream = await readImageFolder(
      { kind: 'tar', source: fileSource(archive) },
      { batchSize: 8, size: { width: 10, height: 10 } },
    );
    const out = await drain(stream);
    expect(out.count).toBe(2);
    expect(out.pixels.length).toBe(2 * 10 * 10 * 3);
    // The JPEG was a flat grey field; resizing keeps it flat.
    expect(Math.abs((out.pixels[0] as number) - 128)).toBeLessThan(4);
    expect(stream.classNames()).toBeNull();
  });

  it('keeps grayscale images single-channel', async () => {
    const g = pngImage(5, 5, true);
    const stream = await tarStream('gray.tar', tarArchive([{ name: 'g.png', data: g.file }]));
    expect(stream.shape.channels).toBe(1);
    expect(Buffer.compare((await drain(stream)).pixels, Buffer.from(g.pixels))).toBe(0);
  });

  it('rejects a non-image tar entry, naming it and its offset', async () => {
    const png = pngImage(2, 2, false).file;
    const bytes = tarArchive([
      { name: 'a.png', data: png },
      { name: 'notes.txt', data: Buffer.from('hello') },
    ]);
    const stream = await tarStream('text.tar', bytes);
    const offset = 512 + Math.ceil(png.length / 512) * 512;
    await expect(drain(stream)).rejects.toThrow(
      `text.tar at byte offset ${offset}: entry "notes.txt" is not a PNG or JPEG image`,
    );
  });

  it.each(['../evil.png', 'a/../../evil.png', '/etc/evil.png'])('rejects the escaping tar path %s', async (name) => {
    const bytes = tarArchive([{ name, data: pngImage(2, 2, false).file }]);
    await expect(tarStream('escape.tar', bytes)).rejects.toThrow(
      `escape.tar at byte offset 0: entry "${name}" escapes the target directory`,
    );
  });

  it('rejects links inside a tar', async () => {
    const bytes = tarArchive([{ name: 'link.png', type: '2', linkName: '/etc/passwd' }]);
    await expect(tarStream('link.tar', bytes)).rejects.toThrow(
      'entry "link.png" is a symbolic link, not a regular file',
    );
  });

  it('rejects a tar with a corrupt header, and one cut short', async () => {
    const bytes = tarArchive([{ name: 'a.png', data: pngImage(2, 2, false).file }]);
    const corrupt = Buffer.from(bytes);
    corrupt[10] = 0x41;
    await expect(tarStream('corrupt.tar', corrupt)).rejects.toThrow(
      'corrupt.tar at byte offset 0: not a tar header (bad checksum)',
    );
    await expect(tarStream('cut.tar.gz', gzip(bytes.subarray(0, 700)))).rejects.toThrow(
      /cut\.tar\.gz at byte offset 700: truncated: the data of entry "a\.png"/,
    );
  });

  it('rejects an image that does not decode', async () => {
    const png = pngImage(4, 4, false).file;
    const broken = Buffer.concat([png.subarray(0, 40), Buffer.alloc(20)]);
    const stream = await tarStream('broken.tar', tarArchive([{ name: 'x.png', data: broken }])).catch((e) => e);
    expect(String(stream)).toContain('broken.tar at byte offset 0: entry "x.png" cannot decode PNG');
  });

  it('rejects non-images in a directory, naming the file', async () => {
    put('withtext/a.png', pngImage(2, 2, false).file);
    const readme = put('withtext/readme.md', Buffer.from('# hi'));
    const stream = await readImageFolder({ kind: 'directory', path: path.join(dir, 'withtext') }, { batchSize: 2 });
    await expect(drain(stream)).rejects.toThrow(`${readme} at byte offset 0: is not a PNG or JPEG image`);
  });
});
