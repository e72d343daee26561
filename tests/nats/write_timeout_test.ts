// writeTimeout over NATS: a session's write returns once all of it is
// sent, so the channel writes at most 4 MiB at once there and a slow
// reader's progress shows; one that reads nothing is cut.
import assert from "node:assert/strict";
import { Channel } from "../../channel/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { NatsEndpoint, type NatsTransport } from "../../nats/mod.ts";
import { requestFrame } from "../_request_frame.ts";
import { within } from "../_within.ts";
import { NatsServer } from "./_server.ts";

const WINDOW = 64 * 1024;

/** A channel served over a NATS session, and the raw session that asks it. */
async function session(server: NatsServer, writeTimeout: number) {
  const accepted = Promise.withResolvers<NatsTransport>();
  const serving = await NatsEndpoint.create({
    nats: { servers: server.url },
    subject: "aiomas.slow",
    window: WINDOW,
    onSession: (transport) => accepted.resolve(transport),
  });
  const asking = await NatsEndpoint.create({
    nats: { servers: server.url },
    window: WINDOW,
  });
  const raw = await asking.open("aiomas.slow");
  const channel = new Channel(await accepted.promise, {
    codec: new MsgPackCodec(),
    writeTimeout,
  });
  return {
    raw,
    channel,
    async close() {
      raw.close();
      await channel.close({ timeout: 1 }).catch(() => {});
      await asking.close();
      await serving.close();
    },
  };
}

Deno.test("NATS writeTimeout: a slow reader's progress shows, piece by piece, and it is not cut", async () => {
  const server = await NatsServer.start();
  let pair: Awaited<ReturnType<typeof session>> | undefined;
  try {
    pair = await session(server, 1500);
    const { raw, channel } = pair;
    await raw.write(requestFrame(1, "12 MiB, please"));
    const request = await within(5000, "the request", channel.recv());
    const size = 12 * 1024 * 1024;
    const reply = request.reply(new Uint8Array(size));
    reply.catch(() => {});
    // 64 KiB every 10 ms: the reply takes about two seconds, longer than
    // writeTimeout; a 4 MiB piece about 0.7 s.
    const buffer = new Uint8Array(WINDOW);
    let received = 0;
    while (received < size) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const n = await within(5000, "a read", raw.read(buffer));
      if (n === null) break;
      received += n;
    }
    await within(5000, "the reply", reply);
    assert.ok(received >= size, `${received} bytes`);
    assert.equal(channel.isClosed, false);
  } finally {
    await pair?.close();
    await server.stop();
  }
});

Deno.test("NATS writeTimeout: a peer that asks and reads nothing is cut", async () => {
  const server = await NatsServer.start();
  let pair: Awaited<ReturnType<typeof session>> | undefined;
  try {
    pair = await session(server, 100);
    const { raw, channel } = pair;
    await raw.write(requestFrame(1, "4 MiB, please"));
    const request = await within(5000, "the request", channel.recv());
    request.reply(new Uint8Array(4 * 1024 * 1024)).catch(() => {});
    await assert.rejects(
      within(5000, "the cut", channel.closed),
      /\(writeTimeout\): it does not read$/,
    );
  } finally {
    await pair?.close();
    await server.stop();
  }
});
