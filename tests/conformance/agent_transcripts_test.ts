// Replays the `agent-*` conversations recorded between two Python aiomas
// 2.0.1 containers (tests/fixtures/transcripts.json) against our Container,
// over real TCP sockets, for every codec and in both roles:
//
// - "our callee" (role b): a raw socket sends role a's recorded frames
//   (the exact bytes) to our container, which holds agent "0" of class
//   Callee; our frames must decode to role b's recorded values, in order.
// - "our caller" (role a): our container, holding agent "0" of class
//   Caller, connects to a raw listener that answers with role b's recorded
//   frames (the exact bytes); our frames must decode to role a's recorded
//   values (ids included), and the calls must give the right results.
//
// Values are compared decoded, not as bytes. `{"__type__": …}` maps are
// compared as plain data: the decoding codec turns each tag back into that
// map.
import assert from "node:assert/strict";
import { Agent, Container, type DynamicRemote } from "../../agent/mod.ts";
import {
  type Codec,
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { expose } from "../../rpc/mod.ts";
import { FrameReader, unhex, writeAll } from "../agent/_wire.ts";

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

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const DAY = 24 * 60 * 60 * 1000;

const transcripts: Transcript[] = (JSON.parse(
  await Deno.readTextFile(
    new URL("../fixtures/transcripts.json", import.meta.url),
  ),
) as Transcript[]).filter((t) => t.name.startsWith("agent-"));

// --- The agents of the recording, rebuilt with this library ------------------

/** Role b's agent "0". */
class Callee extends Agent {
  @expose
  service(value: unknown): unknown {
    return value;
  }

  @expose
  // `caller` is typed as callers pass it (an agent); it arrives as a proxy.
  async call_me_back(caller: Agent, date: Date): Promise<unknown[]> {
    const proxy = caller as unknown as DynamicRemote;
    return [await proxy.ping(), new Date(date.getTime() + DAY)];
  }
}

/** Role a's agent "0". */
class Caller extends Agent {
  @expose
  ping(): string {
    return "pong";
  }
}

// --- Decoding frames as plain data ---------------------------------------------

class Tag0 {}
class Tag1 {}

/**
 * A codec of the transcript's kind whose typeids 0 (date) and 1 (agent
 * reference) decode to the plain `{"__type__": [typeid, data]}` map.
 */
function plainCodec(kind: Transcript["codec"]): Codec {
  const codec = new CODECS[kind]();
  codec.addSerializer(Tag0, () => null, (data) => ({ __type__: [0, data] }));
  codec.addSerializer(Tag1, () => null, (data) => ({ __type__: [1, data] }));
  return codec;
}

/**
 * The agent transcripts' values use none of the `$…` notation tags; make
 * sure, so that comparing them as they are is right.
 */
function checkPlain(value: unknown, where: string): void {
  if (Array.isArray(value)) {
    for (const item of value) checkPlain(item, where);
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      assert.ok(!key.startsWith("$"), `${where}: notation tag ${key}`);
      checkPlain(item, where);
    }
  }
}

/** Reads our next frame and compares it with the recorded one. */
async function expectFrame(
  reader: FrameReader,
  codec: Codec,
  frame: Frame,
  where: string,
): Promise<void> {
  const payload = await reader.read();
  assert.ok(payload !== null, `${where}: the connection ended instead`);
  let value: unknown;
  try {
    value = await codec.decode(payload);
  } catch (error) {
    throw new Error(`${where}: our frame does not decode: ${error}`, {
      cause: error,
    });
  }
  checkPlain(frame.value, where);
  assert.deepStrictEqual(value, frame.value, `${where}: wrong frame`);
}

function describeFrame(t: Transcript, index: number): string {
  const frame = t.frames[index];
  return `${t.name} [${t.codec}] frame ${index} (from ${frame.from}: ${
    JSON.stringify(frame.value)
  })`;
}

// --- Our container as role b (the callee) -------------------------------------

for (const t of transcripts) {
  Deno.test(`${t.name} [${t.codec}]: our container as role b (callee)`, async () => {
    await using container = await Container.create(LOCAL, {
      codec: CODECS[t.codec],
    });
    const callee = new Callee(container);
    assert.equal(callee.aid, "0");
    const port = Number(/:(\d+)\/$/.exec(container.addr)![1]);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const reader = new FrameReader(conn);
      const codec = plainCodec(t.codec);
      for (const [index, frame] of t.frames.entries()) {
        const where = describeFrame(t, index);
        if (frame.from === "a") {
          await writeAll(conn, unhex(frame.frame_hex));
        } else {
          await expectFrame(reader, codec, frame, where);
        }
      }
      // Nothing more: when we stop sending, our container closes its end.
      await conn.closeWrite();
      assert.equal(
        await reader.read(),
        null,
        `${t.name} [${t.codec}]: an extra frame after the transcript`,
      );
    } finally {
      conn.close();
    }
  });
}

// --- Our container as role a (the caller) -------------------------------------

/** What role a's agent does in each scenario, with the result it must get. */
const SCENARIOS: Record<
  string,
  (container: Container, caller: Caller, url: string) => Promise<void>
> = {
  "agent-connect-service": async (container, _caller, url) => {
    const proxy = await container.connect(`${url}0`);
    assert.equal(String(proxy), `CalleeProxy('${url}0')`);
    assert.equal(await proxy.service(42), 42);
  },
  "agent-reference-callback": async (container, caller, url) => {
    const proxy = await container.connect(`${url}0`);
    const result = await proxy.call_me_back(
      caller,
      new Date("2016-01-01T00:00:00Z"),
    ) as [string, Date];
    assert.equal(result.length, 2);
    assert.equal(result[0], "pong");
    assert.ok(result[1] instanceof Date, "the date comes back as a Date");
    assert.equal(result[1].toISOString(), "2016-01-02T00:00:00.000Z");
  },
  "agent-validate-missing": async (container, _caller, url) => {
    await assert.rejects(
      container.connect(`${url}5`),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal(error.name, "LookupError");
        assert.ok(error.message.includes('"5"'), error.message);
        return true;
      },
    );
  },
};

for (const t of transcripts) {
  Deno.test(`${t.name} [${t.codec}]: our container as role a (caller)`, async () => {
    const scenario = SCENARIOS[t.name];
    assert.ok(scenario, `${t.name} [${t.codec}]: no scenario for it`);
    using listener = Deno.listen(LOCAL);
    const port = (listener.addr as Deno.NetAddr).port;
    const container = await Container.create(LOCAL, {
      codec: CODECS[t.codec],
    });
    try {
      const caller = new Caller(container);
      assert.equal(caller.aid, "0");
      const accepted = listener.accept();
      const peer = (async () => {
        const conn = await accepted;
        const reader = new FrameReader(conn);
        const codec = plainCodec(t.codec);
        for (const [index, frame] of t.frames.entries()) {
          const where = describeFrame(t, index);
          if (frame.from === "b") {
            await writeAll(conn, unhex(frame.frame_hex));
          } else {
            await expectFrame(reader, codec, frame, where);
          }
        }
        return reader;
      })();
      // If the peer fails first, the scenario waits for a frame that never
      // comes: end it by shutting the container down.
      peer.catch(() => container.shutdown());
      try {
        try {
          await scenario(container, caller, `tcp://127.0.0.1:${port}/`);
        } catch (error) {
          await peer; // A wrong frame explains the failure better.
          throw new Error(`${t.name} [${t.codec}]: ${error}`, { cause: error });
        }
        const reader = await peer;
        // Nothing more: after shutdown the connection ends without a frame.
        await container.shutdown();
        assert.equal(
          await reader.read(),
          null,
          `${t.name} [${t.codec}]: an extra frame after the transcript`,
        );
      } finally {
        await accepted.then((conn) => conn.close(), () => {});
      }
    } finally {
      await container.shutdown();
    }
  });
}
