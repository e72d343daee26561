// How a peer gets a channel closed, and what that aborts: idleTimeout, the
// requests' signal, and loud codec failures on decode and encode.
import assert from "node:assert/strict";
import { frame } from "../_frames.ts";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";
import { closedWith, header, rawPair, utf8 } from "./_budgets_helpers.ts";

Deno.test("idleTimeout: a connection with nothing pending and no bytes closes; a busy one stays", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const busy = new Channel(b, { idleTimeout: 20, peer: "busy" });
  const idle = rawPair({ peer: "idle", idleTimeout: 60 });
  try {
    // The busy side has a request unanswered: not idle.
    const reply = client.send("wait");
    const request = await busy.recv();
    const error = await closedWith(idle.channel);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /idle: no bytes received and nothing pending for 60 ms \(idleTimeout\)/,
    );
    assert.ok(
      !busy.isClosed,
      "a channel with a request unanswered is not idle",
    );
    await request.reply("done");
    assert.equal(await reply, "done");
    // Now it is idle.
    const idleError = await closedWith(busy);
    assert.match(String(idleError), /idleTimeout/);
  } finally {
    await client.close();
    await busy.close();
    await idle.close();
  }
});

Deno.test("Request.signal: aborts with a ConnectionClosedError when the channel closes from either side", async () => {
  for (const side of ["peer", "own"] as const) {
    const [a, b] = createMemoryPair();
    const client = new Channel(a);
    const server = new Channel(b);
    client.send("work").catch(() => {});
    const request = await server.recv();
    assert.equal(request.signal, server.signal, "one signal per channel");
    assert.ok(!request.signal.aborted);
    const aborted = abortReason(request.signal);
    const closing = side === "peer" ? client.close() : server.close();
    const reason = await aborted;
    assert.ok(reason instanceof ConnectionClosedError, `${side}: ${reason}`);
    await request.reply("late").catch(() => {});
    await closing;
    await client.close();
    await server.close();
  }
});

Deno.test("Request.signal: aborts when the channel fails on bad input", async () => {
  const raw = rawPair();
  try {
    await raw.write(frame(utf8.encode('[0, 0, "work"]')));
    const request = await raw.channel.recv();
    const aborted = abortReason(request.signal);
    await raw.write(header(0));
    const reason = await aborted;
    assert.ok(reason instanceof ConnectionClosedError, String(reason));
    assert.ok(reason.cause instanceof ProtocolError);
  } finally {
    await raw.close();
  }
});

/** Resolves with the signal's reason once it aborts. */
function abortReason(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(signal.reason), {
      once: true,
    })
  );
}

/** A JsonCodec whose decode throws (or rejects, async) on the text "boom". */
class ThrowingCodec extends JsonCodec {
  override decode(data: Uint8Array): unknown {
    if (new TextDecoder().decode(data).includes("boom")) {
      throw new Error("the decoder broke");
    }
    return super.decode(data);
  }
}

class RejectingCodec extends JsonCodec {
  override decode(data: Uint8Array): unknown {
    if (new TextDecoder().decode(data).includes("boom")) {
      return Promise.reject(new Error("the module did not load"));
    }
    return super.decode(data);
  }
}

for (const Codec of [ThrowingCodec, RejectingCodec]) {
  Deno.test(`a codec whose decode ${Codec.name === "ThrowingCodec" ? "throws" : "rejects"} closes the channel with a ProtocolError naming it; pending calls reject`, async () => {
    const [a, b] = createMemoryPair();
    const client = new Channel(a, { peer: "server" });
    const server = new Channel(b, { codec: new Codec(), peer: "client" });
    try {
      const pendingOnServer = server.send("a call of the server's own");
      const ownRequest = await client.recv();
      const pendingOnClient = client.send("boom");
      const error = await closedWith(server);
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match(
        error.message,
        new RegExp(`^Cannot decode message from client with ${Codec.name}: `),
      );
      await assert.rejects(pendingOnServer, ConnectionClosedError);
      await assert.rejects(pendingOnClient, ConnectionClosedError);
      await ownRequest.reply("late").catch(() => {});
    } finally {
      await client.close();
      await server.close();
    }
  });
}

Deno.test("a reply the codec fails to encode with an unexpected error closes the channel; the caller's call rejects", async () => {
  class BrokenEncoder extends JsonCodec {
    override encode(value: unknown): Uint8Array {
      if (JSON.stringify(value).includes("unencodable")) {
        throw new Error("the encoder module did not load");
      }
      return super.encode(value);
    }
  }
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b, { codec: new BrokenEncoder(), peer: "client" });
  try {
    const call = client.send("question", { timeout: 5000 });
    const request = await server.recv();
    await assert.rejects(request.reply("unencodable"), ConnectionClosedError);
    const error = await closedWith(server);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /^Cannot encode reply to client with BrokenEncoder: the encoder module did not load/,
    );
    await assert.rejects(call, ConnectionClosedError);
  } finally {
    await client.close();
    await server.close();
  }
});
