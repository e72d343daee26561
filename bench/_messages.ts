// Messages shared by the benchmarks.

/** A small RPC request as it goes on the wire: `add(3, 4)` with id 1. */
export const SMALL_REQUEST: unknown[] = [0, 1, ["add", [3, 4], {}]];

/**
 * A reply of about 1 KiB (JSON: ~1.0 KiB, MsgPack: ~0.8 KiB): a mix of
 * strings, integers, floats, booleans, nested objects and arrays, the way an
 * agent's state report might look.
 */
export const KIB_MESSAGE: unknown[] = [1, 4711, {
  agent: "tcp://127.0.0.1:5555/42",
  step: 1234,
  time: 1718000000.25,
  active: true,
  position: { x: 12.5, y: -3.25, z: 0 },
  neighbours: [
    "tcp://127.0.0.1:5555/1",
    "tcp://127.0.0.1:5555/2",
    "tcp://127.0.0.1:5556/17",
  ],
  readings: Array.from({ length: 40 }, (_, i) => (i * 37) % 1000),
  history: Array.from({ length: 8 }, (_, i) => ({
    t: 1718000000 + i,
    value: i * 1.5 + 0.125,
    ok: i % 3 !== 0,
  })),
  note: "The quick brown fox jumps over the lazy dog. ".repeat(5),
}];

/** A string payload that makes a channel request frame about 64 bytes. */
export const PAYLOAD_48 = "x".repeat(48);
