// Hand-made c-blosc 1.x frames for attacks that numcodecs would not make:
// one block of any size, and a blosclz stream that is one long run.

const DONT_SPLIT = 0x10;
const MEMCPYED = 0x02;

function header(
  flags: number,
  typesize: number,
  nbytes: number,
  blocksize: number,
  cbytes: number,
): Uint8Array {
  const frame = new Uint8Array(cbytes);
  const view = new DataView(frame.buffer);
  frame.set([2, 1, flags, typesize]);
  view.setUint32(4, nbytes, true);
  view.setUint32(8, blocksize, true);
  view.setUint32(12, cbytes, true);
  return frame;
}

/** A frame that stores `data` as is (memcpyed). */
export function compressStored(data: Uint8Array): Uint8Array {
  const frame = header(
    MEMCPYED,
    1,
    data.length,
    data.length,
    16 + data.length,
  );
  frame.set(data, 16);
  return frame;
}

/**
 * A one-block blosclz frame of `nbytes`: `prefix` (at most 31 bytes), then
 * `byte` repeated, as one literal run and one match of distance 1 whose
 * length takes a byte per 255 bytes of output. With `shuffle`, the block
 * is byte-shuffled with typesize 2 (so `prefix` ends up spread out).
 */
export function compressSingleRun(
  prefix: Uint8Array,
  byte: number,
  nbytes: number,
  shuffle = false,
): Uint8Array {
  const literal = [...prefix, byte];
  const run = nbytes - literal.length;
  if (literal.length > 32 || run < 9) throw new RangeError("cannot make it");
  // A match: ctrl 0xe0 (length 6 + extension bytes), extension bytes, then
  // the low byte of the distance (0: distance 1); length = 6 + ext + 3.
  const extension = run - 9;
  const full = Math.floor(extension / 255);
  const stream = new Uint8Array(1 + literal.length + 1 + full + 1 + 1);
  let at = 0;
  stream[at++] = literal.length - 1;
  stream.set(literal, at);
  at += literal.length;
  stream[at++] = 0xe0;
  stream.fill(255, at, at + full);
  at += full;
  stream[at++] = extension - 255 * full;
  stream[at++] = 0;
  const cbytes = 16 + 4 + 4 + stream.length;
  const frame = shuffle
    ? header(DONT_SPLIT | 0x01, 2, nbytes, nbytes, cbytes)
    : header(DONT_SPLIT, 1, nbytes, nbytes, cbytes);
  const view = new DataView(frame.buffer);
  view.setUint32(16, 20, true);
  view.setInt32(20, stream.length, true);
  frame.set(stream, 24);
  return frame;
}

/**
 * A blosclz frame of `nbytes` of `byte` in blocks of `blocksize`, every
 * block the same run (their offsets all point at one stream).
 */
export function compressRuns(
  byte: number,
  nbytes: number,
  blocksize: number,
  shuffle = false,
): Uint8Array {
  const one = compressSingleRun(new Uint8Array(0), byte, blocksize, shuffle);
  const stream = one.subarray(20);
  const nblocks = Math.ceil(nbytes / blocksize);
  if (nbytes % blocksize !== 0) throw new RangeError("whole blocks only");
  const cbytes = 16 + 4 * nblocks + stream.length;
  const frame = shuffle
    ? header(DONT_SPLIT | 0x01, 2, nbytes, blocksize, cbytes)
    : header(DONT_SPLIT, 1, nbytes, blocksize, cbytes);
  const view = new DataView(frame.buffer);
  for (let j = 0; j < nblocks; j++) {
    view.setUint32(16 + 4 * j, 16 + 4 * nblocks, true);
  }
  frame.set(stream, 16 + 4 * nblocks);
  return frame;
}
