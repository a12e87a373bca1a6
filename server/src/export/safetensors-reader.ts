/**
 * Reads the arrays of a .safetensors file (such as a round's export): each array's shape and a
 * copy of its bytes, so typed-array views start at offset 0 even when the file sits in a pooled
 * buffer.
 */
export function readSafetensors(buf: Uint8Array) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + len))) as Record<
    string,
    { shape: number[]; data_offsets: [number, number] }
  >;
  const at = (name: string) => {
    const h = header[name];
    if (!h) throw new Error(`the file holds no array named ${name}`);
    return {
      shape: h.shape,
      bytes: Uint8Array.from(buf.subarray(8 + len + h.data_offsets[0], 8 + len + h.data_offsets[1])),
    };
  };
  return { header, at };
}
