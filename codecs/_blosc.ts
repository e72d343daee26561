// Reading c-blosc 1.x frames as aiomas sends them: memcpy frames, and
// blosclz with or without byte shuffle, each block in one stream or split
// into `typesize` streams. numcodecs' c-blosc (WebAssembly) does not report
// decompression errors: a damaged frame comes back as whatever its output
// buffer held, which can be part of an earlier message. So frames are read
// here, and every size and offset is checked.
import { SerializationError } from "../errors.ts";

const HEADER_SIZE = 16;
const DOSHUFFLE = 0x01;
const MEMCPYED = 0x02;
const DOBITSHUFFLE = 0x04;
const DODELTA = 0x08;
const DONT_SPLIT = 0x10;
/**
 * The largest block of a frame whose output is counted as it comes: a block
 * is decompressed (and unshuffled) whole before it can be counted. c-blosc
 * 1.x makes blocks of at most 1 MiB itself (16 MiB in old versions with
 * typesize 255).
 */
const MAX_COUNTED_BLOCK = 16 * 1024 * 1024;
/** blosclz: the longest distance of a match with an 8-bit offset. */
const MAX_DISTANCE = 8191;

function fail(what: string): never {
  throw new SerializationError(`Cannot decode blosc frame: ${what}`);
}

/**
 * The decompressed size a blosc frame's header claims, or 0 if it has no
 * header ({@linkcode decompressBlosc} says what is wrong with it).
 */
export function bloscSize(frame: Uint8Array): number {
  if (frame.length < HEADER_SIZE || frame[0] !== 2) return 0;
  return frame[4] + (frame[5] << 8) + (frame[6] << 16) + frame[7] * 0x1000000;
}

/**
 * Decompresses one c-blosc 1.x frame.
 *
 * @param frame The whole frame, header included.
 * @param maxSize The largest decompressed size accepted.
 * @param onBlock Called after each block with the output and where the
 *   bytes decompressed so far end (blocks are in order), so that they can
 *   be checked before the rest is decompressed; it may throw to stop.
 *   Frames with blocks beyond 16 MiB are refused then.
 * @returns The decompressed bytes.
 * @throws {SerializationError} If the frame is damaged, too large or uses
 *   a compressor or filter other than blosclz and byte shuffle.
 */
export function decompressBlosc(
  frame: Uint8Array,
  maxSize: number,
  onBlock?: (out: Uint8Array, end: number) => void,
): Uint8Array {
  if (frame.length < HEADER_SIZE || frame[0] !== 2) fail("no blosc 1.x header");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const flags = frame[2];
  const typesize = frame[3];
  const nbytes = view.getUint32(4, true);
  const blocksize = view.getUint32(8, true);
  const cbytes = view.getUint32(12, true);
  if (cbytes !== frame.length) {
    fail(`header says ${cbytes} bytes, frame has ${frame.length}`);
  }
  if (nbytes > maxSize) {
    fail(`${nbytes} bytes exceed maxDecompressedSize ${maxSize}`);
  }
  if (flags & MEMCPYED) {
    if (HEADER_SIZE + nbytes !== cbytes) {
      fail(`a stored frame of ${cbytes} bytes cannot hold ${nbytes}`);
    }
    // A view: the MsgPack reader copies what it keeps, unless the frame is
    // handed over.
    const out = frame.subarray(HEADER_SIZE);
    onBlock?.(out, nbytes);
    return out;
  }
  if (flags >> 5 !== 0) fail(`compressor ${flags >> 5} is not blosclz`);
  if (flags & DOBITSHUFFLE) fail("bit shuffle is not supported");
  // c-blosc would undo a delta filter: decoding without it gives other bytes.
  if (flags & DODELTA) fail("the delta filter is not supported");
  if (nbytes === 0) return new Uint8Array(0);
  if (blocksize === 0 || typesize === 0) fail("block size or type size is 0");
  if (
    onBlock !== undefined && Math.min(blocksize, nbytes) > MAX_COUNTED_BLOCK
  ) {
    fail(
      `block size ${blocksize} exceeds ${MAX_COUNTED_BLOCK}, the most that is decompressed before it is counted`,
    );
  }

  const nblocks = Math.ceil(nbytes / blocksize);
  const dataStart = HEADER_SIZE + 4 * nblocks;
  if (dataStart > cbytes) fail(`no room for ${nblocks} block offsets`);
  const leftover = nbytes % blocksize;
  const shuffle = (flags & DOSHUFFLE) !== 0 && typesize > 1;
  const out = new Uint8Array(nbytes);
  const block = shuffle ? new Uint8Array(Math.min(blocksize, nbytes)) : out;
  for (let j = 0; j < nblocks; j++) {
    const isLeftover = j === nblocks - 1 && leftover > 0;
    const size = isLeftover ? leftover : blocksize;
    // A leftover block is never split.
    const streams = (flags & DONT_SPLIT) || isLeftover ? 1 : typesize;
    if (size % streams !== 0) {
      fail(`block ${j} of ${size} bytes cannot be split in ${streams}`);
    }
    const streamSize = size / streams;
    let src = view.getUint32(HEADER_SIZE + 4 * j, true);
    let at = shuffle ? 0 : j * blocksize;
    for (let k = 0; k < streams; k++) {
      if (src < dataStart || src > cbytes - 4) {
        fail(`block ${j} starts outside the frame`);
      }
      const csize = view.getInt32(src, true);
      src += 4;
      if (csize <= 0 || csize > cbytes - src) {
        fail(`block ${j} has a stream of ${csize} bytes`);
      }
      if (csize === streamSize) {
        // Stored as is (it did not compress).
        block.set(frame.subarray(src, src + csize), at);
      } else if (
        blosclz(frame, src, src + csize, block, at, at + streamSize) !==
          at + streamSize
      ) {
        fail(`block ${j} does not decompress to ${streamSize} bytes`);
      }
      src += csize;
      at += streamSize;
    }
    if (shuffle) unshuffle(block, size, typesize, out, j * blocksize);
    onBlock?.(out, j * blocksize + size);
  }
  return out;
}

/**
 * blosclz decompression (c-blosc 1.x, FastLZ-based) of `input[ip, ipEnd)`
 * into `output[op, opEnd)`, with matches only inside that output range.
 * Returns where the output ends, or -1 if the stream is damaged.
 */
function blosclz(
  input: Uint8Array,
  ip: number,
  ipEnd: number,
  output: Uint8Array,
  op: number,
  opEnd: number,
): number {
  const opStart = op;
  if (ip >= ipEnd) return -1;
  // The first byte's top bits say the format level; it is a literal run.
  let ctrl = input[ip++] & 31;
  for (;;) {
    if (ctrl >= 32) {
      // A match: copy `len` bytes from earlier output.
      let len = (ctrl >> 5) - 1;
      let ofs = (ctrl & 31) << 8;
      if (len === 6) {
        let code;
        do {
          if (ip + 1 >= ipEnd) return -1;
          code = input[ip++];
          len += code;
        } while (code === 255);
      } else if (ip + 1 >= ipEnd) {
        return -1;
      }
      const code = input[ip++];
      len += 3;
      let ref = op - ofs - code - 1;
      if (code === 255 && ofs === 31 << 8) {
        // A 16-bit distance follows.
        if (ip + 1 >= ipEnd) return -1;
        ofs = (input[ip] << 8) + input[ip + 1];
        ip += 2;
        ref = op - ofs - MAX_DISTANCE - 1;
      }
      if (op + len > opEnd || ref < opStart) return -1;
      // Overlapping (ref + len > op) repeats the pattern output[ref, op):
      // copy it in doubling pieces, each a whole number of periods.
      for (let done = 0; done < len;) {
        const n = Math.min(op + done - ref, len - done);
        output.copyWithin(op + done, ref, ref + n);
        done += n;
      }
      op += len;
    } else {
      // A literal run of ctrl + 1 bytes.
      const len = ctrl + 1;
      if (op + len > opEnd || ip + len > ipEnd) return -1;
      for (let i = 0; i < len; i++) output[op + i] = input[ip + i];
      op += len;
      ip += len;
    }
    if (ip >= ipEnd) return op;
    ctrl = input[ip++];
  }
}

/**
 * Reverses blosc's byte shuffle of one block: `src` holds byte 0 of every
 * element, then byte 1, …; bytes after the last whole element are as is.
 */
function unshuffle(
  src: Uint8Array,
  size: number,
  typesize: number,
  dest: Uint8Array,
  at: number,
): void {
  const elements = Math.floor(size / typesize);
  for (let j = 0; j < typesize; j++) {
    const plane = j * elements;
    for (let i = 0; i < elements; i++) {
      dest[at + i * typesize + j] = src[plane + i];
    }
  }
  const whole = elements * typesize;
  dest.set(src.subarray(whole, size), at + whole);
}
