import { crc32 } from '@coopt/shared/math';

export interface ZipEntry {
  name: string;
  data: () => AsyncIterable<Uint8Array>;
}

const DOS_DATE_1980 = 0x21;

/**
 * A stored (uncompressed) zip, streamed: each entry's CRC and size go in a data descriptor after
 * its bytes, so nothing is buffered. np.load reads it (an .npz is exactly this).
 */
export async function* zipStream(entries: ZipEntry[]): AsyncIterable<Uint8Array> {
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = new TextEncoder().encode(entry.name);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, 0x0008, true);
    lv.setUint16(12, DOS_DATE_1980, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    yield local;
    const start = offset;
    offset += local.length;
    let crc = 0;
    let size = 0;
    for await (const chunk of entry.data()) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      yield chunk;
    }
    if (offset + size > 0xffffffff)
      throw new RangeError('exports over 4 GiB need zip64, which this writer does not produce');
    offset += size;
    const descriptor = new Uint8Array(16);
    const dv = new DataView(descriptor.buffer);
    dv.setUint32(0, 0x08074b50, true);
    dv.setUint32(4, crc, true);
    dv.setUint32(8, size, true);
    dv.setUint32(12, size, true);
    yield descriptor;
    offset += 16;
    const cd = new Uint8Array(46 + name.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x0008, true);
    cv.setUint16(14, DOS_DATE_1980, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, size, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, start, true);
    cd.set(name, 46);
    central.push(cd);
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  for (const c of central) yield c;
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  yield end;
}
