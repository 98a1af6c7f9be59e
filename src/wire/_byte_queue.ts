// The decoder's queue of received bytes, taken from the front in documents'
// parts: views of the chunks that hold them, copies only across chunks.
// Wire code imports only src/wire/, ../array_types.ts, ../_arrays.ts,
// ../_describe.ts and ../batch_error.ts, and no Deno API: it runs in browsers.

const EMPTY = new Uint8Array(0);

/**
 * Received chunks, consumed from the front without copying when possible.
 * Consumed chunks are dropped by moving an index, not by shifting the
 * array, so that many tiny chunks cost linear time.
 */
export class Bytes {
  #chunks: Uint8Array[] = [];
  /** The first chunk not yet fully consumed. */
  #head = 0;
  #length = 0;

  /** The bytes received and not yet taken. */
  get length(): number {
    return this.#length;
  }

  /** Adds a received chunk at the back. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The 8-byte little-endian header length at the front (which holds 8 bytes or more). */
  peekLength(): bigint {
    const first = this.#chunks[this.#head]!;
    const head = first.length >= 8 ? first : this.#copy(8, false);
    return new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  }

  /** Removes `n` bytes from the front: a view if they lie in one chunk, else a copy. */
  take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const first = this.#chunks[this.#head]!;
    if (first.length >= n) {
      this.#consume(first, n);
      this.#length -= n;
      return first.subarray(0, n);
    }
    return this.#copy(n, true);
  }

  #consume(first: Uint8Array, n: number): void {
    if (first.length === n) this.#chunks[this.#head++] = EMPTY;
    else this.#chunks[this.#head] = first.subarray(n);
  }

  /** Copies `n` bytes from the front into a new buffer, removing them if asked. */
  #copy(n: number, remove: boolean): Uint8Array {
    const bytes = new Uint8Array(n);
    let filled = 0;
    for (let index = this.#head; filled < n; index++) {
      const chunk = this.#chunks[index]!;
      const part = chunk.subarray(0, Math.min(chunk.length, n - filled));
      bytes.set(part, filled);
      filled += part.length;
      if (remove) {
        if (part.length === chunk.length) this.#chunks[this.#head++] = EMPTY;
        else this.#chunks[this.#head] = chunk.subarray(part.length);
      }
    }
    if (remove) this.#length -= n;
    return bytes;
  }
}
