// Replays the conversations recorded between two Python aiomas 2.0.1
// endpoints (tests/fixtures/transcripts.json) against this implementation,
// over real TCP sockets, in both roles:
//
// - "our server": a raw socket plays role a (the recorded bytes, exactly)
//   against our channel or RPC server, which must answer with frames that
//   decode to role b's recorded values, in the recorded order;
// - "our client": a raw listener plays role b (the recorded bytes) against
//   our channel or RPC client, whose frames must decode to role a's
//   recorded values (ids included), and which must get the right results.
//
// Values are compared decoded, not as bytes. Error replies are compared by
// their last non-empty line, as the recording keeps only that line.
// `{"__type__": …}` maps are compared as plain data: the decoding codec
// turns each tag back into that map.
//
// The `agent-*` transcripts need the agent layer (containers, agent
// addresses, dates as typeid 0), so they are skipped here; the agent
// layer's own agent_transcripts_test.ts plays them.
import assert from "node:assert/strict";
import {
  type Channel,
  openConnection as openChannel,
  startServer as startChannelServer,
} from "../../channel/mod.ts";
import {
  type Codec,
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { RemoteError } from "../../errors.ts";
import {
  type DynamicRemote,
  expose,
  openConnection as openRpc,
  type RpcClient,
  startServer as startRpcServer,
} from "../../rpc/mod.ts";

interface Frame {
  from: "a" | "b";
  frame_hex: string;
  value: unknown;
  traceback_last_line_only?: boolean;
}

interface Transcript {
  name: string;
  codec: "json" | "msgpack" | "msgpackblosc";
  roles: { a: string; b: string };
  notes: string;
  frames: Frame[];
}

const CODECS: Record<Transcript["codec"], CodecClass> = {
  json: JsonCodec,
  msgpack: MsgPackCodec,
  msgpackblosc: MsgPackBloscCodec,
};

const transcripts: Transcript[] = JSON.parse(
  await Deno.readTextFile(
    new URL("../fixtures/transcripts.json", import.meta.url),
  ),
);

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

/** The service the rpc-callback client passes: ping() -> "pong". */
class ClientService {
  @expose
  ping(): string {
    return "pong";
  }
}

// --- Raw frames over a socket ---

/** One end of a TCP connection read and written frame by frame, by hand. */
class RawConn {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Writes bytes as they are. */
  async write(bytes: Uint8Array): Promise<void> {
    for (let n = 0; n < bytes.length;) {
      n += await this.#conn.write(bytes.subarray(n));
    }
  }

  /** Reads one frame; returns its payload. */
  async readFrame(): Promise<Uint8Array> {
    const frame = await this.readFrameOrEnd();
    if (frame === null) {
      throw new Error("Connection ended while a frame was expected");
    }
    return frame;
  }

  /** Reads one frame's payload, or null at a clean EOF. */
  async readFrameOrEnd(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#buffer.length >= 4) {
        const length = new DataView(
          this.#buffer.buffer,
          this.#buffer.byteOffset,
        ).getUint32(0);
        if (this.#buffer.length >= 4 + length) {
          const payload = this.#buffer.slice(4, 4 + length);
          this.#buffer = this.#buffer.slice(4 + length);
          return payload;
        }
      }
      if (!await this.#fill()) {
        if (this.#buffer.length === 0) return null;
        throw new Error(
          `Connection ended inside a frame (${this.#buffer.length} bytes buffered)`,
        );
      }
    }
  }

  /** Reads more bytes; false at EOF. */
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    const grown = new Uint8Array(this.#buffer.length + n);
    grown.set(this.#buffer);
    grown.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = grown;
    return true;
  }
}

// --- Values ---

function unhex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

/** The value notation of the vectors (README) as decoded JS values. */
function fromNotation(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromNotation);
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1) {
    const inner = record[keys[0]];
    switch (keys[0]) {
      case "$int":
        return BigInt(inner as string);
      case "$float":
        return Number(inner as string);
      case "$bytes":
        return unhex(inner as string);
      case "$map":
        return new Map(
          (inner as [unknown, unknown][]).map((
            [k, v],
          ) => [fromNotation(k), fromNotation(v)]),
        );
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = fromNotation(record[key]);
  return out;
}

/** The highest typeid of a `__type__` map in a notation value, or -1. */
function maxTypeid(value: unknown): number {
  if (Array.isArray(value)) return Math.max(-1, ...value.map(maxTypeid));
  if (typeof value !== "object" || value === null) return -1;
  const record = value as Record<string, unknown>;
  let max = Array.isArray(record.__type__) ? record.__type__[0] as number : -1;
  for (const item of Object.values(record)) {
    max = Math.max(max, maxTypeid(item));
  }
  return max;
}

/**
 * A codec of the transcript's kind that decodes every `__type__` map the
 * transcript uses back into the plain `{"__type__": [typeid, data]}` map.
 */
function plainCodec(transcript: Transcript): Codec {
  const codec = new CODECS[transcript.codec]();
  const count = 1 +
    Math.max(...transcript.frames.map((f) => maxTypeid(f.value)));
  for (let typeid = 0; typeid < count; typeid++) {
    codec.addSerializer(class TagEcho {}, () => null, (data) => ({
      __type__: [typeid, data],
    }));
  }
  return codec;
}

/**
 * Fails with `message` if `promise` has not settled within 10 s, so that a
 * frame that never comes fails the test (naming the transcript) instead of
 * hanging it. Nothing waits on the timer otherwise; it is always cleared.
 */
async function withDeadline<T>(
  promise: Promise<T>,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${message}: no answer within 10 s`)),
      10_000,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function lastLine(text: string): string {
  return text.split("\n").filter((line) => line.trim() !== "").at(-1) ?? "";
}

/** Compares a frame we produced (decoded) with the recorded one. */
function assertFrame(actual: unknown, frame: Frame, where: string): void {
  const expected = fromNotation(frame.value) as unknown[];
  if (!frame.traceback_last_line_only) {
    assert.deepEqual(actual, expected, where);
    return;
  }
  assert.ok(Array.isArray(actual) && actual.length === 3, where);
  assert.deepEqual(actual.slice(0, 2), expected.slice(0, 2), where);
  const text = actual[2];
  assert.equal(typeof text, "string", `${where}: error text`);
  assert.equal(lastLine(text as string), expected[2], `${where}: last line`);
  assert.ok(
    (text as string).endsWith("\n"),
    `${where}: the error text ends with a newline`,
  );
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
  Deno.test(`${name}: our server plays b`, () => playClient(transcript));
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
