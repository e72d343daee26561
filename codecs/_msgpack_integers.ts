// MsgPack integers with aiomas's rules, for MsgPackWriter: the smallest
// form that holds the value; integers beyond 32 bits stay integers (msgpackr
// would write them as float64), and bigints up to 64 bits are written as
// msgpack-python writes them.
import { SerializationError } from "../errors.ts";

/**
 * Writes the integer `value` (a wire integer: `isWireInteger`) at `pos`;
 * the buffer has room for 9 bytes there.
 *
 * @returns The position after it.
 */
export function writeInteger(
  buffer: Uint8Array,
  view: DataView,
  pos: number,
  value: number,
): number {
  if (value >= 0) {
    if (value < 0x80) {
      buffer[pos++] = value;
    } else if (value < 0x100) {
      buffer[pos++] = 0xcc;
      buffer[pos++] = value;
    } else if (value < 0x10000) {
      buffer[pos++] = 0xcd;
      view.setUint16(pos, value);
      pos += 2;
    } else if (value < 0x100000000) {
      buffer[pos++] = 0xce;
      view.setUint32(pos, value);
      pos += 4;
    } else {
      buffer[pos++] = 0xcf;
      view.setUint32(pos, Math.floor(value / 0x100000000));
      view.setUint32(pos + 4, value >>> 0);
      pos += 8;
    }
  } else if (value >= -0x20) {
    buffer[pos++] = value & 0xff;
  } else if (value >= -0x80) {
    buffer[pos++] = 0xd0;
    buffer[pos++] = value & 0xff;
  } else if (value >= -0x8000) {
    buffer[pos++] = 0xd1;
    view.setInt16(pos, value);
    pos += 2;
  } else if (value >= -0x80000000) {
    buffer[pos++] = 0xd2;
    view.setInt32(pos, value);
    pos += 4;
  } else {
    buffer[pos++] = 0xd3;
    view.setBigInt64(pos, BigInt(value));
    pos += 8;
  }
  return pos;
}

/**
 * Writes the bigint `value` at `pos` (room for 9 bytes there): as a number
 * within ±2^53, else as uint64 (positive) or int64 (negative).
 *
 * @returns The position after it.
 * @throws {SerializationError} If it does not fit in 64 bits.
 */
export function writeBigInt(
  buffer: Uint8Array,
  view: DataView,
  pos: number,
  value: bigint,
): number {
  if (value >= -(2n ** 53n) && value <= 2n ** 53n) {
    return writeInteger(buffer, view, pos, Number(value));
  }
  // As msgpack-python does: positive integers as uint64, negative as int64.
  if (value > 0n && value < 2n ** 64n) {
    buffer[pos] = 0xcf;
    view.setBigUint64(pos + 1, value);
  } else if (value < 0n && value >= -(2n ** 63n)) {
    buffer[pos] = 0xd3;
    view.setBigInt64(pos + 1, value);
  } else {
    throw new SerializationError(
      `Cannot encode ${value} as MsgPack: integers must fit in 64 bits`,
    );
  }
  return pos + 9;
}
