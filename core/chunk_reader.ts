/**
 * A bounded queue of received chunks that serves `read(buffer)`, for runtimes that push
 * data through callbacks (Node, Bun). It pauses the source past a high-water mark, so a
 * reader that does not read holds memory constant, and resumes it once drained.
 *
 * @module
 */
import type { SocketError } from "./errors.ts";

interface PendingRead {
  buffer: Uint8Array;
  resolve: (count: number | null) => void;
  reject: (error: SocketError) => void;
}

interface PendingTake {
  buffer: undefined;
  resolve: (chunk: Uint8Array | null) => void;
  reject: (error: SocketError) => void;
}

/**
 * The same bytes as a plain `Uint8Array` (no copy): Node hands over `Buffer`s (Bun too,
 * unless asked for `uint8array`), whose `slice` is a view and `toString` decodes; every
 * runtime gives callers the same type.
 */
function plain(chunk: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(chunk) === Uint8Array.prototype ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Flow control hooks of the data source. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

/** Default bytes queued before the source is paused. */
export const READ_HIGH_WATER_MARK = 1024 * 1024;

/** Serves reads from pushed chunks; see the module doc. */
export class ChunkReader {
  /** Received chunks; those before `#first` are spent, and `#offset` bytes of `#first` are. */
  #chunks: Uint8Array[] = [];
  #first = 0;
  #offset = 0;
  #queued = 0;
  #pending: PendingRead | PendingTake | undefined;
  #ended = false;
  #error: SocketError | undefined;
  #paused = false;
  readonly #flow: FlowControl;
  readonly #highWater: number;

  constructor(flow: FlowControl, highWater: number = READ_HIGH_WATER_MARK) {
    this.#flow = flow;
    this.#highWater = highWater;
  }

  /**
   * Takes a chunk from the source. `owned` says the chunk's memory is ours to keep;
   * otherwise whatever must be kept is copied.
   */
  push(chunk: Uint8Array, owned: boolean): void {
    if (this.#ended || this.#error !== undefined || chunk.length === 0) return;
    let rest = chunk;
    const pending = this.#pending;
    if (pending !== undefined && this.#queued === 0) {
      this.#pending = undefined;
      if (pending.buffer === undefined) {
        pending.resolve(owned ? plain(chunk) : new Uint8Array(chunk));
        return;
      }
      const count = Math.min(chunk.length, pending.buffer.length);
      pending.buffer.set(count === chunk.length ? chunk : chunk.subarray(0, count));
      pending.resolve(count);
      if (count === chunk.length) return;
      rest = chunk.subarray(count);
    }
    // A copy by the constructor: a Buffer's slice() would be a view.
    this.#chunks.push(owned ? rest : new Uint8Array(rest));
    this.#queued += rest.length;
    if (!this.#paused && this.#queued >= this.#highWater) {
      this.#paused = true;
      this.#flow.pause();
    }
  }

  /** The source reached end of stream. */
  end(): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#ended = true;
    if (this.#pending !== undefined && this.#queued === 0) {
      const pending = this.#pending;
      this.#pending = undefined;
      pending.resolve(null);
    }
  }

  /** The source failed; queued bytes are still delivered first. */
  fail(error: SocketError): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = error;
    if (this.#pending !== undefined && this.#queued === 0) {
      const pending = this.#pending;
      this.#pending = undefined;
      pending.reject(error);
    }
  }

  /** Bytes waiting to be read. */
  get queued(): number {
    return this.#queued;
  }

  /** Whether a read or take is waiting. */
  get reading(): boolean {
    return this.#pending !== undefined;
  }

  /**
   * Takes out every byte received and not yet read, in order (for a TLS layer that takes
   * the stream over); the reader then takes nothing more and its source is not resumed.
   */
  drain(): Uint8Array[] {
    const rest: Uint8Array[] = [];
    while (this.#first < this.#chunks.length) rest.push(this.#takeOutRaw());
    this.#chunks.length = 0;
    this.#first = 0;
    this.#queued = 0;
    this.#ended = true;
    return rest;
  }

  #takeOutRaw(): Uint8Array {
    const chunk = this.#chunks[this.#first];
    const rest = this.#offset === 0 ? chunk : chunk.subarray(this.#offset);
    this.#first++;
    this.#offset = 0;
    return rest;
  }

  /**
   * Reads into `buffer`. One call at a time: while a read is pending, another rejects
   * with the error `busy()` makes.
   */
  read(buffer: Uint8Array, busy: () => SocketError): Promise<number | null> {
    if (this.#pending !== undefined) return Promise.reject(busy());
    if (this.#queued > 0) return Promise.resolve(this.#copyOut(buffer));
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    if (buffer.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.#pending = { buffer, resolve, reject };
    });
  }

  /**
   * The next received bytes as they came, without copying them into a buffer of the
   * caller's (the chunk, or what is left of it); null at end of stream. Shares the
   * one-call-at-a-time rule with `read`.
   */
  take(busy: () => SocketError): Promise<Uint8Array | null> {
    if (this.#pending !== undefined) return Promise.reject(busy());
    if (this.#queued > 0) return Promise.resolve(this.#takeOut());
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#pending = { buffer: undefined, resolve, reject };
    });
  }

  #takeOut(): Uint8Array {
    const chunks = this.#chunks;
    const chunk = chunks[this.#first];
    const rest = this.#offset === 0 ? chunk : chunk.subarray(this.#offset);
    this.#first++;
    this.#offset = 0;
    this.#consumed(rest.length);
    return plain(rest);
  }

  #copyOut(buffer: Uint8Array): number {
    let written = 0;
    const chunks = this.#chunks;
    while (written < buffer.length && this.#first < chunks.length) {
      const chunk = chunks[this.#first];
      const start = this.#offset;
      const available = chunk.length - start;
      const room = buffer.length - written;
      if (available <= room) {
        buffer.set(start === 0 ? chunk : chunk.subarray(start), written);
        written += available;
        this.#first++;
        this.#offset = 0;
      } else {
        buffer.set(chunk.subarray(start, start + room), written);
        written += room;
        this.#offset = start + room;
      }
    }
    this.#consumed(written);
    return written;
  }

  /** Drops spent chunks and resumes the source once the queue has drained enough. */
  #consumed(count: number): void {
    const chunks = this.#chunks;
    if (this.#first === chunks.length) {
      chunks.length = 0;
      this.#first = 0;
    } else if (this.#first >= 32) {
      chunks.splice(0, this.#first);
      this.#first = 0;
    }
    this.#queued -= count;
    if (this.#paused && this.#queued <= this.#highWater / 2) {
      this.#paused = false;
      this.#flow.resume();
    }
  }
}
