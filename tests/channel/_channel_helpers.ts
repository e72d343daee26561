// Helpers shared by the channel_*_test.ts files: a peer driven by hand on
// the raw wire, channel pairs over memory, and checks on closed channels.
import assert from "node:assert/strict";
import { frame } from "../_frames.ts";
import {
  Channel,
  type ChannelOptions,
  createMemoryPair,
  FrameDecoderStream,
  type Transport,
} from "../../channel/mod.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";

export const utf8 = new TextEncoder();

/**
 * The other end of a transport, driven by hand: writes raw bytes or JSON
 * frames and reads the frames the channel writes, decoded with JsonCodec.
 */
export class RawPeer {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #codec = new JsonCodec();

  constructor(transport: Transport) {
    this.#writer = transport.writable.getWriter();
    this.#reader = transport.readable.pipeThrough(new FrameDecoderStream())
      .getReader();
  }

  /** Writes bytes as they are. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  /** Writes one JSON-encoded message as a frame. */
  async send(message: unknown): Promise<void> {
    await this.write(frame(this.#codec.encode(message)));
  }

  /** Reads the next frame's payload as text. */
  async readText(): Promise<string> {
    const { value, done } = await this.#reader.read();
    assert.ok(!done, "expected a frame, the stream ended");
    return new TextDecoder().decode(value);
  }

  /** Reads and decodes the next message. */
  async read(): Promise<unknown> {
    const { value, done } = await this.#reader.read();
    assert.ok(!done, "expected a frame, the stream ended");
    return this.#codec.decode(value);
  }

  /** Waits until the channel has closed its side (cleanly or not). */
  async ended(): Promise<void> {
    try {
      const { done, value } = await this.#reader.read();
      assert.ok(
        done,
        `expected the end, got ${value && new TextDecoder().decode(value)}`,
      );
    } catch {
      // Aborted by the channel: also an end.
    }
  }

  /** Ends our side (EOF for the channel) and stops reading. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#reader.cancel().catch(() => {});
  }
}

/** A channel on one end of a memory pair and a raw peer on the other. */
export function rawPair(options?: ChannelOptions): [Channel, RawPeer] {
  const [a, b] = createMemoryPair();
  return [new Channel(a, options), new RawPeer(b)];
}

export function channelPair(
  clientOptions?: ChannelOptions,
  serverOptions?: ChannelOptions,
): [Channel, Channel] {
  const [a, b] = createMemoryPair();
  return [new Channel(a, clientOptions), new Channel(b, serverOptions)];
}

/** Serves `channel` with `fn` until it closes. */
export async function serve(
  channel: Channel,
  fn: (content: unknown) => unknown,
): Promise<void> {
  for await (const request of channel) await request.reply(fn(request.content));
}

export function isClosedError(pattern?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(
      error instanceof ConnectionClosedError,
      `expected ConnectionClosedError, got ${error}`,
    );
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** A round trip on a fresh, unrelated channel pair. */
export async function assertOtherPairWorks(): Promise<void> {
  const [client, server] = channelPair();
  const served = serve(server, (content) => `${content} back`);
  assert.equal(await client.send("ping"), "ping back");
  await client.close();
  await served;
}
