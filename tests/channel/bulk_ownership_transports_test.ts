// Who owns the bytes, end to end through channels: received byte strings
// (views of their frame) stay valid while more frames arrive, a caller's
// buffer is neither changed nor detached by sending it, and reused buffers
// never show one message's bytes in another. Over memory pairs (stream and
// conn-like), a MessagePort, TCP and a Unix socket, with all three codecs.
import assert from "node:assert/strict";
import { TRANSPORTS } from "./_pairs.ts";
import type { Channel, Request } from "../../channel/mod.ts";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import {
  assertSame,
  DIRECT,
  KiB,
  LARGE,
  MiB,
  pattern,
} from "./_bulk_ownership_bytes.ts";

/**
 * Frames up to this size are copied whole into the writer's batch (pooled
 * buffers of 256 KiB); larger ones are written with their byte strings as
 * chunks of their own.
 */
const COPY = 128 * KiB;
const SIZES = [
  LARGE - 1,
  LARGE,
  DIRECT + 1,
  DIRECT - 1,
  MiB,
  5,
  COPY - 16,
  COPY + 1,
];

/** Compressible bytes: a short run depending on the seed, repeated. */
function runs(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (seed + (i >> 6)) % 7;
  return bytes;
}

interface CodecCase {
  name: string;
  codec: CodecClass;
  /** A payload of about `size` bytes for this codec. */
  payload(size: number, seed: number): unknown;
}

const letters = new TextDecoder();
const CODECS: CodecCase[] = [
  {
    name: "JSON",
    codec: JsonCodec,
    // JSON carries bulk data as strings.
    payload: (size, seed) =>
      letters.decode(pattern(size, seed).map((b) => 0x61 + (b % 26))),
  },
  { name: "MsgPack", codec: MsgPackCodec, payload: pattern },
  {
    name: "MsgPack+Blosc (incompressible)",
    codec: MsgPackBloscCodec,
    payload: pattern,
  },
  {
    name: "MsgPack+Blosc (compressible)",
    codec: MsgPackBloscCodec,
    payload: runs,
  },
];

/** A deep copy of a payload, to compare with later. */
function snapshot(value: unknown): unknown {
  return value instanceof Uint8Array ? value.slice() : value;
}

/** Answers every request of `channel` with `answer(request)` until it closes. */
async function serve(
  channel: Channel,
  answer: (request: Request) => unknown,
): Promise<void> {
  for await (const request of channel) {
    await request.reply(await answer(request));
  }
}

for (const [transportName, makePair] of Object.entries(TRANSPORTS)) {
  for (const { name, codec, payload } of CODECS) {
    const label = `bulk ownership (${transportName}, ${name})`;

    Deno.test(`${label}: received bytes stay valid and unchanged while later frames arrive`, async () => {
      await using pair = await makePair(codec);
      const kept: unknown[] = [];
      const serving = serve(pair.server, (request) => {
        kept.push(request.content);
        // Reply with other bytes than the request's, of the same size.
        const size = request.content instanceof Uint8Array
          ? request.content.length
          : (request.content as string).length;
        return payload(size, kept.length + 5000);
      });
      const replies: unknown[] = [];
      for (let round = 0; round < 2; round++) {
        for (const [i, size] of SIZES.entries()) {
          replies.push(
            await pair.client.send(payload(size, round * 100 + i + 1)),
          );
        }
      }
      if (codec === MsgPackCodec) {
        // The 1 MiB bins came in assembled frames: they are views of them,
        // so this test covers the view path (a copy would pass trivially).
        const at = SIZES.indexOf(MiB);
        for (const bin of [kept[at], replies[at]] as Uint8Array[]) {
          assert.ok(bin.buffer.byteLength > bin.length, "a view of its frame");
        }
      }
      // Every reference taken first is checked after all later frames.
      for (const [i, size] of [...SIZES, ...SIZES].entries()) {
        const round = i < SIZES.length ? 0 : 1;
        const seed = round * 100 + (i % SIZES.length) + 1;
        assertSame(kept[i], payload(size, seed), `request ${i}`);
        assertSame(replies[i], payload(size, i + 1 + 5000), `reply ${i}`);
      }
      await pair.client.close();
      await serving;
    });

    Deno.test(`${label}: a caller's buffer is neither changed nor detached by send or reply`, async () => {
      await using pair = await makePair(codec);
      const replied: { sent: unknown; copy: unknown }[] = [];
      const serving = serve(pair.server, (request) => {
        const out = payload(
          request.content instanceof Uint8Array
            ? request.content.length
            : (request.content as string).length,
          replied.length + 900,
        );
        replied.push({ sent: out, copy: snapshot(out) });
        return out;
      });
      for (const [i, size] of SIZES.entries()) {
        const sent = payload(size, i + 300);
        const copy = snapshot(sent);
        const reply = await pair.client.send(sent);
        assertSame(sent, copy, `sent buffer ${i} after send`);
        assertSame(reply, payload(size, i + 900), `reply ${i}`);
        // The reply the server handed over stays its own, unchanged.
        assertSame(replied[i].sent, replied[i].copy, `reply buffer ${i}`);
      }
      // A view into a larger buffer: the bytes around it are untouched too.
      if (codec !== JsonCodec) {
        const whole = payload(LARGE * 3, 77) as Uint8Array;
        const copy = whole.slice();
        const view = whole.subarray(LARGE / 2, LARGE / 2 + LARGE + 3);
        const reply = await pair.client.send(view);
        assert.equal(whole.byteLength, LARGE * 3);
        assertSame(whole, copy, "the buffer around the view");
        assertSame(
          view,
          copy.subarray(LARGE / 2, LARGE / 2 + LARGE + 3),
          "view",
        );
        assert.equal((reply as Uint8Array).length, LARGE + 3);
      }
      await pair.client.close();
      await serving;
    });

    Deno.test(`${label}: reused buffers never carry one message's bytes into another, 8 calls in flight`, async () => {
      await using pair = await makePair(codec);
      const serving = serve(pair.server, (request) => {
        const [size, seed, body] = request.content as [number, number, unknown];
        assertSame(body, payload(size, seed), `request ${seed}`);
        return [size, seed, payload(size, seed + 7000)];
      });
      const mixed = [
        LARGE,
        3,
        MiB,
        DIRECT + 1,
        LARGE - 1,
        100,
        2 * LARGE + 7,
        1,
        COPY - 16,
        COPY + 1,
      ];
      for (let round = 0; round < 3; round++) {
        const calls = mixed.map((size, i) => {
          const seed = round * 1000 + i + 1;
          return pair.client.send([size, seed, payload(size, seed)]);
        });
        for (const [i, reply] of (await Promise.all(calls)).entries()) {
          const seed = round * 1000 + i + 1;
          const [size, echoed, body] = reply as [number, number, unknown];
          assert.deepEqual([size, echoed], [mixed[i], seed]);
          assertSame(body, payload(mixed[i], seed + 7000), `reply ${seed}`);
        }
        // Alternate large, small, large with another fill, one at a time.
        for (
          const [j, size] of [MiB, 2, LARGE, 1, COPY - 16, 3, MiB].entries()
        ) {
          const seed = round * 1000 + 500 + j;
          const reply = await pair.client.send([
            size,
            seed,
            payload(size, seed),
          ]);
          assertSame(
            (reply as unknown[])[2],
            payload(size, seed + 7000),
            `serial ${seed}`,
          );
        }
      }
      await pair.client.close();
      await serving;
    });
  }

  for (const { name, codec, payload } of CODECS.slice(1)) {
    Deno.test(`bulk ownership (${transportName}, ${name}): several large byte strings nested in arrays and maps round-trip exactly`, async () => {
      await using pair = await makePair(codec);
      const serving = serve(pair.server, (request) => request.content);
      const value = {
        a: payload(LARGE, 1),
        text: "between",
        list: [payload(LARGE - 1, 2), "x".repeat(70_000), payload(MiB, 3)],
        map: {
          inner: [payload(2 * LARGE + 1, 4), { deep: payload(LARGE, 5) }],
        },
        small: payload(10, 6),
      };
      const copy = structuredClone(value);
      const first = await pair.client.send(value);
      const second = await pair.client.send([payload(MiB, 9), "after"]);
      assert.deepEqual(value, copy, "the sent value is unchanged");
      assert.deepEqual(first, copy);
      assert.deepEqual(second, [payload(MiB, 9), "after"]);
      await pair.client.close();
      await serving;
    });
  }
}
