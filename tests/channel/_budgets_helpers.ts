// Helpers shared by the budgets_*_test.ts files: raw frame headers, a
// channel fed by a raw writer, and a check that other channels still work.
import assert from "node:assert/strict";
import {
  Channel,
  type ChannelOptions,
  createMemoryPair,
} from "../../channel/mod.ts";

export const utf8 = new TextEncoder();
export const KiB = 1024;
export const MiB = 1024 * KiB;

export function header(length: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
}

/** A channel on one end of a memory pair, and a raw writer on the other. */
export function rawPair(options: ChannelOptions = {}) {
  const [a, b] = createMemoryPair();
  const channel = new Channel(b, options);
  const writer = a.writable.getWriter();
  const reader = a.readable.getReader();
  return {
    channel,
    write: (bytes: Uint8Array) => writer.write(bytes),
    /** Closes the channel and lets go of the raw end. */
    async close() {
      await channel.close({ timeout: 0 });
      await channel.closed.catch(() => {});
      writer.releaseLock();
      reader.releaseLock();
    },
  };
}

/** Resolves with what `channel.closed` rejected with. */
export async function closedWith(channel: Channel): Promise<unknown> {
  try {
    await channel.closed;
  } catch (error) {
    return error;
  }
  assert.fail("the channel closed cleanly");
}

/** A working pair of channels, to show others are unaffected. */
export async function assertOtherPairWorks(): Promise<void> {
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b);
  const reply = client.send("ping");
  const request = await server.recv();
  await request.reply("pong");
  assert.equal(await reply, "pong");
  await client.close();
  await server.close();
}
