/**
 * A body's chunks, kept as they come and joined at the end; once `expect` is told the body's
 * length (its content-length, when the caller has checked it against what it will accept), the
 * chunks so far are copied into one buffer of that size and the rest into place as they come, so
 * no copy of the whole body is left for the end. Either way the result has a buffer of its own,
 * at offset 0.
 */
export class BodyCollector {
  private buffer: Uint8Array | null = null;
  private filled = 0;
  private chunks: Uint8Array[] = [];

  expect(size: number): void {
    if (this.buffer || !Number.isSafeInteger(size) || size < 0) return;
    const received = this.chunks.reduce((n, c) => n + c.byteLength, 0);
    if (received > size) return;
    this.buffer = new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
    for (const chunk of this.chunks) this.place(chunk);
    this.chunks = [];
  }

  add(chunk: Uint8Array): void {
    if (this.buffer && this.chunks.length === 0 && this.filled + chunk.byteLength <= this.buffer.byteLength) {
      this.place(chunk);
      return;
    }
    // More than expected (only a misbehaving client): keep what came and collect the rest.
    if (this.buffer && this.chunks.length === 0) this.chunks.push(this.buffer.subarray(0, this.filled));
    this.chunks.push(chunk);
  }

  bytes(): Uint8Array {
    if (this.buffer && this.chunks.length === 0) return this.buffer.subarray(0, this.filled);
    const bytes = new Uint8Array(this.chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const chunk of this.chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    return bytes;
  }

  private place(chunk: Uint8Array): void {
    (this.buffer as Uint8Array).set(chunk, this.filled);
    this.filled += chunk.byteLength;
  }
}
