// `info.allocate` for one getItem call, on the main thread or in a worker:
// a typed array over a free buffer of exactly the asked byte size, or a
// new one. The free buffers are the caller's (the main thread's pool, or
// what came back to a worker with its request).

import { show } from "./_describe.ts";
import type { TypedArray, TypedArrayConstructor } from "./array_types.ts";

/** Free buffers by byte length. */
export type FreeBuffers = Map<number, ArrayBuffer[]>;

/** The typed array types `allocate` makes (Float16Array where the runtime has it). */
const TYPES: ReadonlySet<unknown> = new Set([
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
  ...(typeof Float16Array === "undefined" ? [] : [Float16Array]),
]);

/** A new buffer of `bytes`, or a RangeError that names the length asked for. */
function newBuffer(type: TypedArrayConstructor, length: number, bytes: number): ArrayBuffer {
  try {
    return new ArrayBuffer(bytes);
  } catch (error) {
    throw new RangeError(
      `Cannot allocate a ${type.name} of ${length} elements (${bytes} bytes): ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}

/** The allocations of one getItem call. */
export class BatchAllocator {
  /** Calls of `allocate`. */
  allocations = 0;
  /** Of those, the ones a free buffer served. */
  recycled = 0;
  /** Every buffer `allocate` handed out, in order. */
  readonly made: ArrayBuffer[] = [];
  #free: FreeBuffers;
  #onReuse: (buffer: ArrayBuffer) => void;

  /**
   * @param free Where free buffers are taken from.
   * @param onReuse Called with each free buffer taken.
   */
  constructor(free: FreeBuffers, onReuse: (buffer: ArrayBuffer) => void = () => {}) {
    this.#free = free;
    this.#onReuse = onReuse;
  }

  /** `info.allocate`: a `type` array of `length` elements. */
  allocate = <T extends TypedArray>(type: TypedArrayConstructor<T>, length: number): T => {
    if (!TYPES.has(type)) {
      throw new TypeError(
        `Cannot allocate an array as its type must be one of ${
          [...TYPES].map((type) => (type as { name: string }).name).join(", ")
        }: current value is ${
          typeof type === "function" ? type.name || "an anonymous function" : show(type)
        }`,
      );
    }
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(
        `Cannot allocate a ${type.name} as its length must be a non-negative integer: current value is ${
          show(length)
        }`,
      );
    }
    const bytes = length * type.BYTES_PER_ELEMENT;
    const buffer = this.#take(bytes) ?? newBuffer(type, length, bytes);
    this.allocations++;
    this.made.push(buffer);
    return new type(buffer, 0, length);
  };

  /** The bytes of every buffer handed out. */
  get bytes(): number {
    return this.made.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  }

  #take(bytes: number): ArrayBuffer | undefined {
    const free = this.#free.get(bytes);
    const buffer = free?.pop();
    if (free?.length === 0) this.#free.delete(bytes);
    if (!buffer) return undefined;
    this.recycled++;
    this.#onReuse(buffer);
    return buffer;
  }
}
