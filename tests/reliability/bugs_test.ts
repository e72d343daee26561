// Regression tests for the bugs the reliability suite found, one minimal
// repro each (the fuzz families that found bugs 1–4 and 7 are in
// _fuzz_families.ts). Bugs 1–6 were fixed in 9eb10ae, bug 7 in 108d9b7;
// close() hanging on a write stuck at a peer that does not read was fixed in
// d8b98cd and is covered in faults_server_close_test.ts. Each comment says
// what went wrong, for the record.
import assert from "node:assert/strict";
import {
  Channel,
  ConnectionClosedError,
  createMemoryPair,
  expose,
  MsgPackBloscCodec,
  MsgPackCodec,
  openConnection,
  ProtocolError,
  RemoteError,
  rpc,
  SerializationError,
} from "../../mod.ts";
import { frame, FuzzService, RawPeer, writeAll } from "./_fuzz.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const utf8 = new TextEncoder();
type Addr = { hostname: string; port: number };

/** Counts unhandled rejections until `stop()`, which lets the runtime report pending ones first. */
function captureRejections() {
  const reasons: unknown[] = [];
  const listener = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    reasons.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", listener);
  return {
    reasons,
    async stop(): Promise<unknown[]> {
      // Two turns of the event loop: rejections still unhandled are reported.
      for (let i = 0; i < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      globalThis.removeEventListener("unhandledrejection", listener);
      return reasons;
    },
  };
}

/** An RPC server (JSON) that records how each connection ended, by peer. */
async function rpcServer(service: object) {
  const outcomes = new Map<string, Promise<unknown>>();
  const server = await rpc.startServer(LOCAL, service, {
    onConnection: (client) => {
      outcomes.set(
        client.channel.peer,
        client.closed.then(() => undefined, (e) => e),
      );
    },
  });
  return {
    server,
    addr: server.addr as Addr,
    outcome: (peer: string) => outcomes.get(peer)!,
  };
}

// Bug 1. A request id is echoed in the reply; an id holding a service
// reference ({"__type__": [0, path]}) decodes to a proxy, which cannot be
// encoded, so neither the reply nor the error reply can be sent:
// rpc/rpc_client.ts #reply/#handle swallow the second SerializationError
// (`request.fail(error).catch(() => {})`) and the request stays unanswered
// forever; the connection stays open, the caller hangs, and close() waits
// for its timeout. Suggested fix: in channel.ts #respond (#settleReply/#respondLater),
// when an ERROR reply (whose content is a string) cannot be encoded, the id
// is at fault: fail the channel with a ProtocolError ("request id … cannot
// be sent back") instead of throwing SerializationError to the caller.
Deno.test({
  name:
    "bug 1: a request whose id holds a service reference is answered or refused, never left hanging",
  async fn() {
    const { server, addr, outcome } = await rpcServer(new FuzzService());
    const raw = await RawPeer.connect(addr);
    try {
      await writeAll(
        raw.conn,
        frame(utf8.encode('[0, {"__type__": [0, "x"]}, ["add", [1, 2], {}]]')),
      );
      const event = await raw.next(performance.now() + 2000);
      assert.ok(event !== null, "neither answered nor closed within 2 s");
      if (event.kind === "closed") {
        assert.ok(await outcome(raw.name) instanceof ProtocolError);
      }
    } finally {
      await raw.close();
      await server.close({ timeout: 100 });
    }
  },
});

// Bug 2. A thenable result: an *async* handler that returns a value from
// the peer holding {"then": <service reference>} makes the runtime call the
// proxy as `then(resolve, reject)` (rpc/rpc_client.ts #handle:
// `result.then(...)` on the async function's promise, which adopts the
// thenable). The proxy sends a call with two functions as arguments: that
// fails to encode, the proxy's promise is dropped (unhandled rejection,
// which kills a Deno process without a handler), and resolve is never
// called: the request is never answered. Synchronous handlers are safe
// since a3c24cf (results that are not Promises are not awaited).
// Suggested fix: see bug 3 (a proxy's promise must not be an unhandled rejection
// when dropped), and do not let references make thenables: e.g. the
// proxy's `get` trap already hides `then` on the proxy itself; the RPC
// layer could refuse to revive a reference under a "then" key, or the
// codec's fromWire for references could return a non-callable object
// whose calls go through an explicit method.
Deno.test({
  name:
    "bug 2: an async handler returning {then: <reference>} is answered; no unhandled rejection",
  async fn() {
    class AsyncEcho {
      @expose
      async echo(value: unknown): Promise<unknown> {
        return await Promise.resolve(value);
      }
    }
    const rejections = captureRejections();
    let unhandled: unknown[] = [];
    const { server, addr } = await rpcServer(new AsyncEcho());
    const raw = await RawPeer.connect(addr);
    try {
      await writeAll(
        raw.conn,
        frame(
          utf8.encode(
            '[0, 1, ["echo", [{"then": {"__type__": [0, "x"]}}], {}]]',
          ),
        ),
      );
      const event = await raw.next(performance.now() + 2000);
      assert.ok(event !== null, "no reply within 2 s");
      assert.equal(event.kind, "frame");
    } finally {
      await raw.close();
      await server.close({ timeout: 100 });
      unhandled = await rejections.stop();
    }
    assert.deepEqual(unhandled, []);
  },
});

// Bug 3. A value from the peer holding {"valueOf": <service reference>}
// (or "toString") makes ordinary code call the peer behind the scenes:
// `a + b` in a handler calls a.valueOf(), which is a proxy: a request goes
// to the peer ([0, 0, ["x", [], {}]]) and its promise is dropped. When the
// peer answers with an error or the connection closes, that promise
// rejects unhandled: a Deno server without an "unhandledrejection" handler
// exits. Any peer can crash any RPC server whose handlers add, compare or
// format their arguments. Suggested fix (rpc/_proxy.ts, `apply`): mark the call's
// promise as handled before returning it (`const p = caller(path, args);
// p.catch(() => {}); return p;`); callers that await it still get the
// rejection.
Deno.test({
  name:
    "bug 3: {valueOf: <reference>} in arguments cannot cause an unhandled rejection",
  async fn() {
    const rejections = captureRejections();
    let unhandled: unknown[] = [];
    const { server, addr, outcome } = await rpcServer(new FuzzService());
    const raw = await RawPeer.connect(addr);
    try {
      await writeAll(
        raw.conn,
        frame(
          utf8.encode(
            '[0, 2, ["add", [{"valueOf": {"__type__": [0, "x"]}}, 1], {}]]',
          ),
        ),
      );
      const deadline = performance.now() + 2000;
      for (;;) {
        const event = await raw.next(deadline);
        assert.ok(event !== null && event.kind === "frame", "no reply");
        const message = JSON.parse(new TextDecoder().decode(event.payload));
        if (message[0] !== 0) {
          assert.deepEqual(message.slice(0, 2), [1, 2]);
          break;
        }
        // A request from the server to us (the valueOf call): not answered.
      }
    } finally {
      await raw.close();
      await outcome(raw.name);
      await server.close({ timeout: 100 });
      unhandled = await rejections.stop();
    }
    assert.deepEqual(unhandled, []);
  },
});

// Bug 7, in the fixes of bugs 2 and 3 (9eb10ae): the proxy of the peer's
// root service (a reference with path "") refused every call with
// `return Promise.reject(...)` before the "then" check and before marking
// the promise handled. {"valueOf": <root reference>} made an unhandled
// rejection again, and {"then": <root reference>} returned from an async
// handler hung the request. Fixed in 108d9b7.
Deno.test("bug 7: the root reference under valueOf or then: no unhandled rejection, no hang", async () => {
  const rejections = captureRejections();
  let unhandled: unknown[] = [];
  const { server, addr } = await rpcServer(new FuzzService());
  const raw = await RawPeer.connect(addr);
  try {
    const root = '{"__type__": [0, ""]}';
    await writeAll(
      raw.conn,
      frame(utf8.encode(`[0, 1, ["add", [{"valueOf": ${root}}, 1], {}]]`)),
    );
    await writeAll(
      raw.conn,
      frame(utf8.encode(`[0, 2, ["echoAsync", [{"then": ${root}}], {}]]`)),
    );
    const ids: number[] = [];
    const deadline = performance.now() + 2000;
    while (ids.length < 2) {
      const event = await raw.next(deadline);
      assert.ok(event !== null && event.kind === "frame", `replies: ${ids}`);
      const [type, id] = JSON.parse(new TextDecoder().decode(event.payload));
      if (type !== 0) ids.push(id);
    }
    assert.deepEqual(ids.sort(), [1, 2]);
  } finally {
    await raw.close();
    await server.close({ timeout: 100 });
    unhandled = await rejections.stop();
  }
  assert.deepEqual(unhandled, []);
});

// Bug 4. String() on values from the peer. channel/_message.ts
// checkMessage formats the type with `String(type)`; channel.ts #dispatch
// formats an unknown reply id with `${id}` and the content of an error
// reply with `String(content)`. An object with a "toString" (or "valueOf")
// key that is not a function makes these throw a TypeError ("Cannot convert
// object to primitive value"), so: (a) the connection closes with a
// TypeError instead of the documented ProtocolError; (b) for an error reply
// to a pending call, `this.#pending.delete(id)` has already run when
// String(content) throws, so #shutdown no longer sees the call and it
// never settles (it hangs unless it has a timeout). With a service
// reference under such a key, String() even calls the peer (see bug 3).
// Suggested fix: format peer values without calling their methods, e.g. a helper
// that returns JSON.stringify for strings, String() only for primitives and
// `describe(value)` (codecs/serializer_registry.ts) for objects; for the
// error text, `typeof content === "string" ? content : safeFormat(content)`,
// and settle the pending call before anything that can throw.
Deno.test({
  name:
    "bug 4a: a message type or reply id whose String() throws closes with a ProtocolError",
  async fn() {
    for (
      const text of [
        '[1, {"toString": 1}, null]',
        '[{"toString": 1}, 0, null]',
        '[2, {"valueOf": 1, "toString": "x"}, "e"]',
      ]
    ) {
      const { server, addr, outcome } = await rpcServer(new FuzzService());
      const raw = await RawPeer.connect(addr);
      try {
        await writeAll(raw.conn, frame(utf8.encode(text)));
        const error = await outcome(raw.name);
        assert.ok(error instanceof ProtocolError, `${text}: ${error}`);
      } finally {
        await raw.close();
        await server.close();
      }
    }
  },
});

Deno.test({
  name:
    "bug 4b: a pending call whose error reply is an object with a bad toString settles",
  async fn() {
    const listener = Deno.listen(LOCAL);
    const client = await openConnection(listener.addr as Addr);
    const raw = new RawPeer(await listener.accept());
    try {
      const call = client.send("x", { timeout: 2000 });
      const request = await raw.next(performance.now() + 2000);
      assert.equal(request?.kind, "frame");
      await writeAll(raw.conn, frame(utf8.encode('[2, 0, {"toString": 1}]')));
      await assert.rejects(
        call,
        (error: Error) =>
          error instanceof RemoteError ||
          error instanceof ConnectionClosedError,
      );
    } finally {
      await client.close();
      await raw.close();
      listener.close();
    }
  },
});

// Bug 5. Async codecs (MsgPackBloscCodec): channel.ts #write starts the
// encoding at once (`const encoded = this.codec.encode(message)`) but
// attaches a handler to that promise only when the send chain reaches it.
// When encoding fails (a SerializationError, e.g. a reply holding a proxy
// or a symbol) while an earlier frame of the chain is still pending (the
// socket is above highWaterMark, or the compressor is loading on first
// use), the rejection is unhandled for that time: Deno reports it, and a
// process without an "unhandledrejection" handler exits. A peer can
// trigger it on an RPC server (first replies of a fresh process, or while
// a large reply drains): `echo(1)` and `echo({"__type__": [0, "x"]})` in
// one write. Suggested fix: in #write, `if (encoded instanceof Promise)
// encoded.catch(() => {});` right after encoding (the chain still sees the
// rejection when it awaits `encoded`).
Deno.test({
  name:
    "bug 5: an async codec's encoding error behind a pending frame is not an unhandled rejection",
  async fn() {
    const rejections = captureRejections();
    let unhandled: unknown[] = [];
    const [a, b] = createMemoryPair();
    const client = new Channel(a, {
      codec: new MsgPackBloscCodec(),
      highWaterMark: 1024,
    });
    const server = new Channel(b, { codec: new MsgPackBloscCodec() });
    const serving = (async () => {
      for await (const request of server) await request.reply("ok");
    })();
    try {
      const big = crypto.getRandomValues(new Uint8Array(60000));
      const first = client.send(big);
      const second = client.send(Symbol("not encodable"));
      await assert.rejects(second, SerializationError);
      assert.equal(await first, "ok");
    } finally {
      await client.close();
      await server.close();
      await serving;
      unhandled = await rejections.stop();
    }
    assert.deepEqual(unhandled, []);
  },
});

// Bug 6. MsgPackCodec (and so MsgPackBloscCodec) changes strings that are
// not well-formed UTF-16 without a word: codecs/_msgpack_writer.ts #string
// encodes with TextEncoder, which replaces a lone surrogate ("\ud83d", e.g.
// from slicing a string in the middle of an emoji) by U+FFFD, so the peer
// gets a different string. JsonCodec keeps it ("\ud83d" escapes), and
// Python's msgpack refuses it (UnicodeEncodeError: surrogates not
// allowed). Found by load_test.ts (2.4% of its replies differed before it
// sent well-formed text only). Suggested fix: in #string, for strings that are not
// ASCII, `if (!value.isWellFormed()) throw new SerializationError("Cannot
// encode a string with a lone surrogate as MsgPack")`.
Deno.test({
  name:
    "bug 6: MsgPack refuses a string with a lone surrogate instead of changing it",
  fn() {
    const codec = new MsgPackCodec();
    for (const text of ["a\ud83d", "\udc00", "x".repeat(40) + "\ud800"]) {
      let decoded: unknown;
      try {
        decoded = codec.decode(codec.encode(text) as Uint8Array);
      } catch (error) {
        assert.ok(error instanceof SerializationError);
        continue;
      }
      assert.equal(decoded, text, "changed on the way");
    }
  },
});

// The documented behaviour the fix of bug 1 must keep: an id of
// any other type is echoed unchanged.
Deno.test("ids of every type are echoed unchanged (JSON)", async () => {
  const { server, addr } = await rpcServer(new FuzzService());
  const raw = await RawPeer.connect(addr);
  try {
    const ids = ['"id"', "null", "-1", "1.5", "[1, 2]", '{"a": 1}', "true"];
    for (const id of ids) {
      await writeAll(
        raw.conn,
        frame(utf8.encode(`[0, ${id}, ["add", [1, 2], {}]]`)),
      );
      const event = await raw.next(performance.now() + 2000);
      assert.equal(event?.kind, "frame");
      const reply = JSON.parse(
        new TextDecoder().decode((event as { payload: Uint8Array }).payload),
      );
      assert.deepEqual(reply, [1, JSON.parse(id), 3]);
    }
  } finally {
    await raw.close();
    await server.close();
  }
});
