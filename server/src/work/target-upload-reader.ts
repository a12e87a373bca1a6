import zlib from 'node:zlib';
import { type CheckedTargets, checkDecodedTargets, decodeTargets, TargetStreamDecoder } from '@coopt/shared/math';
import { BodyCollector } from '../http/body-collector.ts';

/**
 * Reads a target upload as its chunks arrive. A float32 upload (what volunteers send) is decoded
 * and checked by the stream decoder alone, so its values are never held in memory: only its ids
 * are kept. Anything else (float16, or a header the decoder cannot read) is kept whole and
 * decoded at the end by `decodeTargets`, which says what is wrong with it.
 */
export class TargetUploadReader {
  private readonly decoder = new TargetStreamDecoder((bytes, previous) => zlib.crc32(bytes, previous));
  private collector: BodyCollector | null = new BodyCollector();
  private declared: number | null = null;

  feed(chunk: Uint8Array): void {
    this.decoder.feed(chunk);
    if (!this.collector) return;
    const alone = this.decoder.decodesAlone;
    if (alone === true) {
      // The decoder has what it needs of the chunks so far: the body is not kept.
      this.collector = null;
      return;
    }
    this.collector.add(chunk);
    if (alone === false && this.declared !== null) this.collector.expect(this.declared);
  }

  /**
   * The body's declared length, once the caller trusts it: a body that is kept whole is then
   * copied into one buffer of that size as it arrives (see BodyCollector.expect).
   */
  expect(size: number): void {
    this.declared = size;
    if (this.collector && this.decoder.decodesAlone === false) this.collector.expect(size);
  }

  /** Whether the body is being kept whole (an upload the stream decoder does not read alone). */
  get holdsBody(): boolean {
    return this.collector !== null;
  }

  /** The upload's ids, row width and first non-finite value; a TargetCodecError names what is malformed. */
  finish(): CheckedTargets {
    if (!this.collector) return this.decoder.finish();
    return checkDecodedTargets(decodeTargets(this.collector.bytes(), { crc32: (b) => zlib.crc32(b) }));
  }
}
