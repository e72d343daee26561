// Replays the recorded transcripts (tests/fixtures/transcripts.json) with
// "our server": a raw socket plays role a (the recorded bytes, exactly)
// against our channel or RPC server, which must answer with frames that
// decode to role b's recorded values, in the recorded order.
//
// The `agent-*` transcripts need the agent layer (containers, agent
// addresses, dates as typeid 0), so they are skipped here; the agent
// layer's own agent_transcripts_test.ts plays them.
import assert from "node:assert/strict";
import {
  type Channel,
  startServer as startChannelServer,
} from "../../channel/mod.ts";
import {
  type DynamicRemote,
  expose,
  startServer as startRpcServer,
} from "../../rpc/mod.ts";
import {
  assertFrame,
  CODECS,
  plainCodec,
  RawConn,
  type Transcript,
  transcripts,
  unhex,
  withDeadline,
} from "./_transcripts_replay.ts";

// --- The aiomas endpoints of the recording, rebuilt with this library ---

/** The channel server of the recording: "cya", or ValueError(42) for "fail". */
async function serveChannel(channel: Channel): Promise<void> {
  for await (const request of channel) {
    if (request.content === "fail") {
      const error = new Error("42");
      error.name = "ValueError";
      await request.fail(error);
    } else {
      await request.reply("cya");
    }
  }
}

class Sub {
  @expose({ params: ["a", "b"] })
  mul(a: number, b = 1): number {
    return a * b;
  }
}

/** The MathServer of the recording. */
class MathServer {
  @expose
  sub: Sub = new Sub();
  // aiomas's slow() sleeps 0.3 s; here it waits until fast() has run, so
  // its reply comes second without any timer.
  #fastCalled = Promise.withResolvers<void>();

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  async call_back(client: unknown): Promise<string> {
    return "client says " + await (client as DynamicRemote).ping();
  }

  @expose
  async slow(value: unknown): Promise<unknown> {
    await this.#fastCalled.promise;
    return value;
  }

  @expose
  fast(value: unknown): unknown {
    this.#fastCalled.resolve();
    return value;
  }
}

// --- Our server against the recorded client (role a) ---

async function startOurServer(
  transcript: Transcript,
): Promise<AsyncDisposable & { port: number }> {
  const addr = { hostname: "127.0.0.1", port: 0 };
  const codec = CODECS[transcript.codec];
  const server = transcript.name.startsWith("channel-")
    ? await startChannelServer(addr, serveChannel, { codec })
    : await startRpcServer(addr, new MathServer(), { codec });
  const port = (server.addr as { port: number }).port;
  return { port, [Symbol.asyncDispose]: () => server.close() };
}

async function playClient(transcript: Transcript): Promise<void> {
  const label = `${transcript.name} [${transcript.codec}], our server`;
  await using server = await startOurServer(transcript);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const raw = new RawConn(conn);
    const codec = plainCodec(transcript);
    for (const [i, frame] of transcript.frames.entries()) {
      if (frame.from === "a") {
        await raw.write(unhex(frame.frame_hex));
      } else {
        const where = `${label}, frame ${i}`;
        const payload = await withDeadline(raw.readFrame(), where);
        assertFrame(await codec.decode(payload), frame, where);
      }
    }
    // Our end of the conversation is over: the server must close too,
    // without sending anything more.
    await conn.closeWrite();
    const extra = await withDeadline(raw.readFrameOrEnd(), `${label}, end`);
    assert.equal(extra, null, `${label}: a frame after the last recorded one`);
  } finally {
    conn.close();
  }
}

for (const transcript of transcripts) {
  const name = `transcript ${transcript.name} [${transcript.codec}]`;
  // Played by agent_transcripts_test.ts (they need containers).
  if (transcript.name.startsWith("agent-")) continue;
  assert.ok(
    transcript.name.startsWith("channel-") ||
      transcript.name.startsWith("rpc-"),
    `unknown transcript kind: ${transcript.name}`,
  );
  Deno.test(`${name}: our server plays b`, () => playClient(transcript));
}
