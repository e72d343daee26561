// writeTimeout: a peer that asks and never reads its replies is cut once
// our frames wait that long without a byte taken; a slow reader that takes
// some now and then is not.
import assert from "node:assert/strict";
import {
  Channel,
  createMemoryPair,
  DEFAULT_WRITE_TIMEOUT,
  type Transport,
  unansweredBudget,
} from "../../channel/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { ProtocolError } from "../../errors.ts";
import { requestFrame } from "../_request_frame.ts";
import { within } from "../_within.ts";

/** A server channel on one end; the other end is the raw peer. */
function rawPeer(writeTimeout?: number): { peer: Transport; server: Channel } {
  const [peer, end] = createMemoryPair();
  const server = new Channel(end, {
    codec: new MsgPackCodec(),
    highWaterMark: 1024,
    peer: "tcp://198.51.100.7:4000",
    writeTimeout,
  });
  return { peer, server };
}

Deno.test("writeTimeout: 30 s by default, a positive number of ms or Infinity", () => {
  assert.equal(DEFAULT_WRITE_TIMEOUT, 30_000);
  const [a] = createMemoryPair();
  for (const writeTimeout of [0, -1, NaN]) {
    assert.throws(
      () => new Channel(a, { writeTimeout }),
      (error: Error) =>
        error instanceof RangeError && /writeTimeout/.test(error.message),
    );
  }
});

Deno.test("writeTimeout: a peer that asks and never reads its replies is cut, and what it held is freed", async () => {
  const before = unansweredBudget().held;
  const { peer, server } = rawPeer(50);
  const writer = peer.writable.getWriter();
  try {
    await writer.write(requestFrame(1, "big, please"));
    await writer.write(requestFrame(2, "and another"));
    const first = await within(5000, "the first request", server.recv());
    const reply = first.reply(new Uint8Array(256 * 1024));
    reply.catch(() => {});
    // The peer reads nothing: the channel is cut with the reason.
    await assert.rejects(
      within(5000, "the cut", server.closed),
      (error: Error) => {
        assert.ok(error instanceof ProtocolError, String(error));
        assert.match(
          error.message,
          /^Cannot write to tcp:\/\/198\.51\.100\.7:4000: \d+ bytes queued, and the peer took none of them for 50 ms \(writeTimeout\): it does not read$/,
        );
        return true;
      },
    );
    await assert.rejects(reply);
    assert.equal(unansweredBudget().held, before);
  } finally {
    writer.releaseLock();
    await server.close({ timeout: 1 }).catch(() => {});
    await peer.readable.cancel().catch(() => {});
  }
});

Deno.test("writeTimeout: a slow reader that takes some bytes now and then is not cut", async () => {
  const { peer, server } = rawPeer(300);
  const writer = peer.writable.getWriter();
  const reader = peer.readable.getReader();
  try {
    await writer.write(requestFrame(1, "4 MiB, please"));
    const request = await within(5000, "the request", server.recv());
    const size = 4 * 1024 * 1024;
    const reply = request.reply(new Uint8Array(size).fill(7));
    // One piece every 100 ms: the whole reply takes longer than
    // writeTimeout, each wait is shorter.
    let received = 0;
    while (received < size + 12) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const { value, done } = await reader.read();
      if (done) break;
      received += value.length;
    }
    await within(5000, "the reply", reply);
    assert.ok(received >= size, `${received} bytes`);
    // Still open, and still answering.
    await writer.write(requestFrame(2, "again"));
    const next = await within(5000, "the next request", server.recv());
    await next.reply("ok");
  } finally {
    writer.releaseLock();
    reader.releaseLock();
    await server.close({ timeout: 1 }).catch(() => {});
    await peer.readable.cancel().catch(() => {});
  }
});

/**
 * A transport with a `write` function of the test's (requests come from
 * the raw peer of a memory pair).
 */
function writeFunctionTransport(
  end: Transport,
  write: (bytes: Uint8Array) => Promise<number>,
): Transport {
  return {
    readable: end.readable,
    writable: end.writable,
    write,
    close: () => end.close?.(),
  };
}

Deno.test("writeTimeout: a write function that resolves with nothing counts the piece as written, once", async () => {
  const [peer, end] = createMemoryPair();
  const chunks: Uint8Array[] = [];
  const server = new Channel(
    writeFunctionTransport(end, (bytes) => {
      chunks.push(bytes.slice());
      return Promise.resolve(undefined as unknown as number);
    }),
    { codec: new MsgPackCodec() },
  );
  const writer = peer.writable.getWriter();
  try {
    await writer.write(requestFrame(1, "hello"));
    const request = await within(5000, "the request", server.recv());
    await within(5000, "the reply", request.reply("world"));
    const body = new MsgPackCodec().encode([1, 1, "world"]);
    const written = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((at, c) => (written.set(c, at), at + c.length), 0);
    assert.equal(written.length, 4 + body.length);
  } finally {
    writer.releaseLock();
    await server.close({ timeout: 1 }).catch(() => {});
    await peer.readable.cancel().catch(() => {});
  }
});

Deno.test("writeTimeout: a peer that asked nothing and stops reading our calls is not cut: the call's timeout judges it", async () => {
  // The raw peer reads nothing: it may be busy with our call.
  const [end, peer] = createMemoryPair();
  const client = new Channel(end, {
    codec: new MsgPackCodec(),
    highWaterMark: 1024,
    writeTimeout: 50,
  });
  try {
    const call = client.send(new Uint8Array(256 * 1024), { timeout: 400 });
    await assert.rejects(
      within(5000, "the call", call),
      (error: Error) => error.name === "TimeoutError",
    );
    // Eight writeTimeouts without a byte taken, and still open.
    assert.equal(client.isClosed, false);
  } finally {
    await client.close({ timeout: 1 }).catch(() => {});
    await peer.readable.cancel().catch(() => {});
  }
});

Deno.test("writeTimeout: a peer that asks and does not read is cut, even while a call of ours to it waits", async () => {
  const { peer, server } = rawPeer(50);
  const writer = peer.writable.getWriter();
  try {
    await writer.write(requestFrame(1, "big, please"));
    const request = await within(5000, "the request", server.recv());
    // A call the peer will never answer (sent, and waiting for its reply
    // while the peer reads nothing): it does not keep the peer safe.
    const call = server.send("are you there?");
    call.catch(() => {});
    await Promise.resolve();
    request.reply(new Uint8Array(256 * 1024)).catch(() => {});
    await assert.rejects(
      within(5000, "the cut", server.closed),
      /\(writeTimeout\): it does not read$/,
    );
    await assert.rejects(call);
  } finally {
    writer.releaseLock();
    await server.close({ timeout: 1 }).catch(() => {});
    await peer.readable.cancel().catch(() => {});
  }
});
