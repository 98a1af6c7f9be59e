// Buffers that come back: the dataset's one pool of the buffers that
// `info.allocate` made and `release` handed back, under one budget.
//
// Each buffer `allocate` made is remembered (weakly) with where it was
// made: the main thread, or worker `id`. `release` detaches the reader's
// arrays by moving each such buffer's memory into a new ArrayBuffer (no
// copy), and keeps it where it came from: the main thread's free buffers,
// or the returns that go to worker `id` with its next request. What the
// pools hold together never exceeds `batches` batches' worth (the largest
// batch's allocations so far): the oldest buffers are let go to make room,
// so sizes no batch asks for any more do not stay.

import { BatchAllocator, type FreeBuffers } from "../_allocator.ts";
import { someBuffer } from "../_buffers_in.ts";
import type { AllocationTally, WorkerBuffers } from "./_fetcher.ts";

/** Where a buffer was made: a worker's id, or the main thread. */
type Origin = number | "main";

/** The dataset's buffers, out and back. */
export class Recycler implements WorkerBuffers {
  /** The budget, in batches: maxQueueSize + workers. */
  #batches: number;
  /** The most bytes one getItem call allocated so far: a batch's worth. */
  #batchBytes = 0;
  /** Bytes held in the pools. */
  #held = 0;
  #made = new WeakMap<ArrayBuffer, Origin>();
  /** Every pooled buffer, oldest first, and where it waits. */
  #pooled = new Map<ArrayBuffer, Origin>();
  /** The main thread's free buffers. */
  #free: FreeBuffers = new Map();
  /** By worker id: released buffers to send with its next request. */
  #returns = new Map<number, ArrayBuffer[]>();
  /** By worker id: the byte sizes its last batch allocated, which its next one likely asks for. */
  #wanted = new Map<number, number[]>();
  /** Buffers released by the current `release` call. */
  #released = 0;

  constructor(batches: number) {
    this.#batches = batches;
  }

  /**
   * `allocate` for one getItem call on the main thread, counting into
   * `tally`; `done()` once the call settled.
   */
  allocator(tally: AllocationTally): { allocate: BatchAllocator["allocate"]; done(): void } {
    const allocator = new BatchAllocator(this.#free, (buffer) => this.#unpool(buffer));
    return {
      allocate: (type, length) => {
        const recycled = allocator.recycled;
        const array = allocator.allocate(type, length);
        this.#made.set(array.buffer as ArrayBuffer, "main");
        tally.allocations++;
        tally.recycled += allocator.recycled - recycled;
        return array;
      },
      done: () => this.#sized(allocator.bytes),
    };
  }

  take(id: number): ArrayBuffer[] {
    const returns = this.#returns.get(id);
    if (!returns) return [];
    const taken: ArrayBuffer[] = [];
    for (const bytes of this.#wanted.get(id) ?? []) {
      const at = returns.findLastIndex((buffer) => buffer.byteLength === bytes);
      if (at < 0) continue;
      const buffer = returns[at]!;
      // Mostly the last one: popped, with no array made for what is taken out.
      if (at === returns.length - 1) returns.pop();
      else returns.splice(at, 1);
      this.#unpool(buffer);
      taken.push(buffer);
    }
    return taken;
  }

  made(
    id: number,
    allocated: ArrayBuffer[],
    allocations: number,
    recycled: number,
    tally: AllocationTally,
  ): void {
    // The sizes its next batch likely asks for, in the list kept for it: this runs for every batch.
    const wanted = allocated.length > 0 ? listAt(this.#wanted, id) : undefined;
    if (wanted) wanted.length = 0;
    let bytes = 0;
    for (const buffer of allocated) {
      this.#made.set(buffer, id);
      wanted?.push(buffer.byteLength);
      bytes += buffer.byteLength;
    }
    this.#sized(bytes);
    tally.allocations += allocations;
    tally.recycled += recycled;
  }

  /**
   * Hands back the buffers in `batch` that `allocate` made: each is
   * detached and its memory pooled where it was made, within the budget.
   * Returns how many buffers were released: one per `allocate` call.
   */
  release(batch: unknown): number {
    this.#released = 0;
    someBuffer(batch, this.#releaseBuffer);
    return this.#released;
  }

  /** `release` for one buffer of the batch (made once: it runs for every batch). */
  #releaseBuffer = (buffer: ArrayBuffer): boolean => {
    const origin = this.#made.get(buffer);
    if (origin === undefined) return false;
    this.#made.delete(buffer);
    if (buffer.detached) return false;
    const moved = buffer.transfer();
    this.#released++;
    this.#pool(moved, origin);
    return false;
  };

  /** Keeps `buffer` where `origin` will take it, letting the oldest go to stay within budget. */
  #pool(buffer: ArrayBuffer, origin: Origin): void {
    const budget = this.#batches * this.#batchBytes;
    // An empty buffer saves nothing, and would never leave.
    if (buffer.byteLength === 0 || buffer.byteLength > budget) return;
    if (this.#held + buffer.byteLength > budget) this.#letGo(budget - buffer.byteLength);
    this.#pooled.set(buffer, origin);
    this.#held += buffer.byteLength;
    if (origin === "main") listAt(this.#free, buffer.byteLength).push(buffer);
    else listAt(this.#returns, origin).push(buffer);
  }

  /** Lets the oldest pooled buffers go until the pools hold at most `bytes`. */
  #letGo(bytes: number): void {
    for (const [old, from] of this.#pooled) {
      if (this.#held <= bytes) break;
      this.#unpool(old);
      const list = from === "main" ? this.#free.get(old.byteLength) : this.#returns.get(from);
      list?.splice(list.indexOf(old), 1);
      if (from === "main" && list?.length === 0) this.#free.delete(old.byteLength);
    }
  }

  /** `buffer` leaves the pools: taken, or let go. */
  #unpool(buffer: ArrayBuffer): void {
    if (this.#pooled.delete(buffer)) this.#held -= buffer.byteLength;
  }

  /** Drops every pooled buffer (the dataset closed). */
  clear(): void {
    this.#free.clear();
    this.#returns.clear();
    this.#pooled.clear();
    this.#held = 0;
  }

  /** One getItem call allocated `bytes`: a batch's worth is the most so far. */
  #sized(bytes: number): void {
    this.#batchBytes = Math.max(this.#batchBytes, bytes);
  }
}

function listAt<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key);
  if (!list) map.set(key, list = []);
  return list;
}
