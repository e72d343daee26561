// The MsgPack codec's state, shared by MsgPackCodec and MsgPackBloscCodec:
// the serializer table, a reused writer and reader, and the decode budget.
import { maxDecodedSizeOption, MSGPACK_EXPANSION } from "./_budget.ts";
import { msgpackCost, msgpackCostBound } from "./_msgpack_cost.ts";
import { MsgPackReader } from "./_msgpack_reader.ts";
import { MsgPackWriter } from "./_msgpack_writer.ts";
import type { CodecOptions } from "./codec.ts";
import { DEFAULT_MAX_DEPTH } from "./codec.ts";
import { SerializerRegistry } from "./serializer_registry.ts";

/** MsgPack encoding and budgeted decoding with one serializer table. */
export class MsgPackCore {
  readonly registry: SerializerRegistry = new SerializerRegistry();
  readonly maxDecodedSize: number;
  #maxDepth: number;
  #writer: MsgPackWriter;
  #writing = false;
  #reader: MsgPackReader;
  #reading = false;
  /**
   * The cost charged to the messages being decoded (more than one when a
   * serializer decodes with this codec again): a nested decode gets what
   * is left.
   */
  #spent = 0;
  /** An upper bound of what the latest outermost decode built (cost units). */
  lastCost = 0;

  /** What a decode may build now: the budget, less what the messages being decoded were charged. */
  get left(): number {
    return this.maxDecodedSize - this.#spent;
  }

  constructor(options: CodecOptions) {
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxDecodedSize = maxDecodedSizeOption(options.maxDecodedSize);
    this.#writer = new MsgPackWriter(this.registry, this.#maxDepth);
    this.#reader = new MsgPackReader(this.registry, this.#maxDepth);
  }

  /**
   * Encodes into a new array; with a `limit`, stops once the encoding is
   * sure to be longer (see `LimitedEncodeView`).
   */
  encode(value: unknown, limit: number = Infinity): Uint8Array {
    // A serializer may encode with this codec again: give it its own writer
    // (and no limit: what it returns counts where it is written).
    if (this.#writing) {
      return new MsgPackWriter(this.registry, this.#maxDepth).encode(value);
    }
    this.#writing = true;
    try {
      return this.#writer.encode(value, limit);
    } finally {
      this.#writing = false;
    }
  }

  encodeView(value: unknown): Uint8Array {
    if (this.#writing) {
      return new MsgPackWriter(this.registry, this.#maxDepth).encode(value);
    }
    this.#writing = true;
    try {
      return this.#writer.encodeView(value);
    } finally {
      this.#writing = false;
    }
  }

  /** See `MsgPackWriter.release` (not while encoding). */
  release(): void {
    if (!this.#writing) this.#writer.release();
  }

  /**
   * See `MsgPackWriter.encodeParts`; a nested call gets copies only, and
   * no limit.
   */
  encodeParts(value: unknown, limit: number = Infinity): Uint8Array[] {
    if (this.#writing) {
      return [new MsgPackWriter(this.registry, this.#maxDepth).encode(value)];
    }
    this.#writing = true;
    try {
      return this.#writer.encodeParts(value, limit);
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Decodes one message within the budget. `owned`: the caller hands `data`
   * over, so large bins may be views of it (see `MsgPackReader.read`).
   * `cost`, if given, is what a cost scan of `data` found already (blosc
   * scans while it decompresses).
   */
  decode(data: Uint8Array, owned: boolean, cost?: number): unknown {
    // A serializer may decode with this codec again: give it its own reader.
    if (this.#reading) {
      return this.#read(
        new MsgPackReader(this.registry, this.#maxDepth),
        data,
        this.left,
        owned,
        cost,
      );
    }
    this.#reading = true;
    try {
      const value = this.#read(
        this.#reader,
        data,
        this.maxDecodedSize,
        owned,
        cost,
      );
      // The message and what its serializers decoded from it.
      this.lastCost = this.#spent;
      return value;
    } finally {
      this.#reading = false;
      this.#spent = 0;
    }
  }

  #read(
    reader: MsgPackReader,
    data: Uint8Array,
    budget: number,
    owned: boolean,
    cost: number | undefined,
  ): unknown {
    let spare = Infinity;
    /** What the `Map`s made may add to the cost (a count does not see them). */
    let extras = Infinity;
    if (cost === undefined) {
      const worst = data.length * MSGPACK_EXPANSION;
      cost = worst;
      if (worst > budget) {
        cost = msgpackCost(data, budget);
        spare = budget - cost;
      } else if (data.length >= COUNT_FROM) {
        // It cannot reach the budget, but charged its worst per byte it
        // would fill a channel's maxUnansweredSize with a few: count what
        // a few headers per byte tell (all of a bulk payload's). The
        // worst per byte covers the Maps too.
        cost = msgpackCostBound(data, budget, data.length / HEADERS_PER_BYTE);
        extras = worst - cost;
      } else extras = 0;
    } else {
      spare = budget - cost;
    }
    // Kept after a nested decode returns: its siblings share what is left.
    this.#spent += cost;
    const value = reader.read(data, spare, budget, owned);
    this.#spent += Math.min(reader.extras, extras);
    return value;
  }
}

/** The shortest frame whose cost is counted, though it cannot pass the budget. */
const COUNT_FROM = 16 * 1024;
/**
 * How many bytes of such a frame a header counted takes: beyond that many
 * headers the rest is charged its worst per byte. Values of 8 bytes or more
 * on average (floats, strings, bins) are all counted, at a fraction of
 * their decode; many smaller ones cost at most an eighth of a full count.
 */
const HEADERS_PER_BYTE = 8;
