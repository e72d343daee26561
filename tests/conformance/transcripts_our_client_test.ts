// Replays the recorded transcripts (tests/fixtures/transcripts.json) with
// "our client": a raw listener plays role b (the recorded bytes) against
// our channel or RPC client, whose frames must decode to role a's
// recorded values (ids included), and which must get the right results.
//
// The `agent-*` transcripts need the agent layer (containers, agent
// addresses, dates as typeid 0), so they are skipped here; the agent
// layer's own agent_transcripts_test.ts plays them.
import assert from "node:assert/strict";
import { openConnection as openChannel } from "../../channel/mod.ts";
import type { CodecClass } from "../../codecs/mod.ts";
import { RemoteError } from "../../errors.ts";
import {
  expose,
  openConnection as openRpc,
  type RpcClient,
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

/** The service the rpc-callback client passes: ping() -> "pong". */
class ClientService {
  @expose
  ping(): string {
    return "pong";
  }
}

// --- Our client against the recorded server (role b) ---

type Driver = (
  codec: CodecClass,
  addr: Deno.NetAddr,
) => Promise<{ closable: AsyncDisposable; done: Promise<void> }>;

/** Runs a channel client: send(content) must give `check`. */
function channelDriver(
  content: string,
  check: (reply: Promise<unknown>) => Promise<void>,
): Driver {
  return async (codec, addr) => {
    const channel = await openChannel(addr, { codec });
    return { closable: channel, done: check(channel.send(content)) };
  };
}

/** Runs an RPC client; `run` makes the calls and checks the results. */
function rpcDriver(
  run: (client: RpcClient, service: ClientService) => Promise<void>,
): Driver {
  return async (codec, addr) => {
    const service = new ClientService();
    const client = await openRpc(addr, { codec, service });
    return { closable: client, done: run(client, service) };
  };
}

function remoteError(name: string, message: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof RemoteError, String(error));
    assert.equal(error.remoteName, name);
    assert.equal(error.remoteMessage, message);
    return true;
  };
}

const DRIVERS: Record<string, Driver> = {
  "channel-ohai-cya": channelDriver("ohai", async (reply) => {
    assert.equal(await reply, "cya");
  }),
  "channel-fail": channelDriver("fail", async (reply) => {
    await assert.rejects(reply, remoteError("ValueError", "42"));
  }),
  "rpc-add": rpcDriver(async (client) => {
    assert.equal(await client.remote.add(3, 4), 7);
  }),
  "rpc-nested-kwargs": rpcDriver(async (client) => {
    assert.equal(await client.call("sub/mul", [6], { b: 7 }), 42);
  }),
  "rpc-unknown-name": rpcDriver(async (client) => {
    await assert.rejects(
      client.remote.nope(),
      remoteError("LookupError", 'Name "nope" not found in ""'),
    );
  }),
  "rpc-callback": rpcDriver(async (client, service) => {
    assert.equal(await client.remote.call_back(service), "client says pong");
  }),
  "rpc-out-of-order": rpcDriver(async (client) => {
    const order: unknown[] = [];
    const slow = client.remote.slow("slow").then((v) => order.push(v));
    const fast = client.remote.fast("fast").then((v) => order.push(v));
    await Promise.all([slow, fast]);
    assert.deepEqual(order, ["fast", "slow"]);
  }),
};

async function playServer(transcript: Transcript): Promise<void> {
  const label = `${transcript.name} [${transcript.codec}], our client`;
  const drive = DRIVERS[transcript.name];
  assert.ok(drive, `${label}: no driver for this transcript`);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  let closable: AsyncDisposable | undefined;
  try {
    const started = await drive(
      CODECS[transcript.codec],
      listener.addr as Deno.NetAddr,
    );
    closable = started.closable;
    const raw = new RawConn(await accepted);
    const codec = plainCodec(transcript);
    const player = (async () => {
      for (const [i, frame] of transcript.frames.entries()) {
        if (frame.from === "b") {
          await raw.write(unhex(frame.frame_hex));
        } else {
          const where = `${label}, frame ${i}`;
          const payload = await withDeadline(raw.readFrame(), where);
          assertFrame(await codec.decode(payload), frame, where);
        }
      }
    })();
    const done = started.done.catch((error) => {
      throw new Error(`${label}: ${error}`, { cause: error });
    });
    await Promise.all([player, withDeadline(done, `${label}, results`)]);
    // Nothing more may come from our client, until it closes.
    const extra = raw.readFrameOrEnd();
    extra.catch(() => {}); // Awaited below, unless closing fails first.
    await closable[Symbol.asyncDispose]();
    assert.equal(
      await withDeadline(extra, `${label}, end`),
      null,
      `${label}: a frame after the last recorded one`,
    );
  } finally {
    await closable?.[Symbol.asyncDispose]();
    listener.close();
    // Also when the driver failed before the connection was used.
    await accepted.then((conn) => conn.close(), () => {});
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
  Deno.test(`${name}: our client plays a`, () => playServer(transcript));
}

Deno.test("transcripts: every channel and rpc scenario is played for all three codecs", () => {
  const played = transcripts.filter((t) => !t.name.startsWith("agent-"));
  assert.equal(played.length, 21);
  for (const codec of Object.keys(CODECS)) {
    assert.deepEqual(
      played.filter((t) => t.codec === codec).map((t) => t.name).sort(),
      Object.keys(DRIVERS).sort(),
    );
  }
});
