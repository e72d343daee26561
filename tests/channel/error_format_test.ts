import assert from "node:assert/strict";
import { Channel, createMemoryPair, RemoteError } from "../../mod.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import type { Transport } from "../../channel/mod.ts";

const codec = new JsonCodec();

/** Writes one JSON frame to a raw transport. */
async function writeFrame(raw: Transport, message: unknown): Promise<void> {
  const payload = codec.encode(message) as Uint8Array;
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, 4);
  const writer = raw.writable.getWriter();
  await writer.write(frame);
  writer.releaseLock();
}

/** Reads one JSON frame from a raw transport. */
async function readFrame(raw: Transport): Promise<unknown> {
  const reader = raw.readable.getReader();
  let bytes = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the stream ended before a whole frame");
    const joined = new Uint8Array(bytes.length + value.length);
    joined.set(bytes);
    joined.set(value, bytes.length);
    bytes = joined;
    if (bytes.length < 4) continue;
    const size = new DataView(bytes.buffer).getUint32(0);
    if (bytes.length < 4 + size) continue;
    reader.releaseLock();
    return codec.decode(bytes.subarray(4, 4 + size));
  }
}

/** The content a channel with `format` writes for `fail(error)`. */
async function failureContent(
  format: "aiomas" | "mosaik",
  error: unknown,
): Promise<unknown> {
  const [raw, b] = createMemoryPair();
  await using server = new Channel(b, { errorFormat: format });
  await writeFrame(raw, [0, 0, "x"]);
  const request = await server.recv();
  await request.fail(error);
  const [type, id, content] = await readFrame(raw) as unknown[];
  assert.deepEqual([type, id], [2, 0]);
  return content;
}

Deno.test("errorFormat aiomas: an error reply is a traceback text", async () => {
  const content = await failureContent("aiomas", new RangeError("no"));
  assert.equal(typeof content, "string");
  assert.match(content as string, /RangeError: no\n$/);
});

Deno.test("errorFormat mosaik: an error reply is [name, message, ...lines]", async () => {
  const content = await failureContent("mosaik", new RangeError("no"));
  assert.ok(Array.isArray(content));
  const [name, message, ...lines] = content as string[];
  assert.equal(name, "RangeError");
  assert.equal(message, "no");
  assert.equal(lines.at(-1), "RangeError: no\n");
  for (const line of lines) assert.ok(line.endsWith("\n"), line);
});

Deno.test("errorFormat mosaik: a thrown non-error is sent as Error and its text", async () => {
  const content = await failureContent("mosaik", "plain");
  assert.deepEqual((content as string[]).slice(0, 2), ["Error", "plain"]);
});

Deno.test("errorFormat: an unknown format is a TypeError", () => {
  const [a] = createMemoryPair();
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new Channel(a, { errorFormat: "xml" as any }),
    { name: "TypeError", message: /Unknown errorFormat "xml"/ },
  );
});

Deno.test("errorFormat: error replies in both forms are understood", async () => {
  for (const format of ["aiomas", "mosaik"] as const) {
    const [a, b] = createMemoryPair();
    await using client = new Channel(a);
    await using server = new Channel(b, { errorFormat: format });
    const reply = client.send("x");
    const request = await server.recv();
    await request.fail(new TypeError("bad input"));
    const error = await reply.catch((e) => e);
    assert.ok(error instanceof RemoteError, format);
    assert.equal(error.remoteName, "TypeError");
    assert.equal(error.remoteMessage, "bad input");
    assert.match(error.remoteTraceback, /TypeError: bad input\n$/);
  }
});

Deno.test("errorFormat: mosaik's name and message come from their own fields", async () => {
  const [a, raw] = createMemoryPair();
  await using client = new Channel(a);
  const reply = client.send("set_event");
  assert.deepEqual(await readFrame(raw), [0, 0, "set_event"]);
  // As mosaik 3.3.3 sends it: the last line has the qualified class name.
  await writeFrame(raw, [2, 0, [
    "SimulationError",
    "not in real-time mode",
    "Traceback (most recent call last):\n",
    '  File "mosaik/simmanager.py", line 680, in set_event\n',
    "mosaik.exceptions.SimulationError: not in real-time mode\n",
  ]]);
  const error = await reply.catch((e) => e) as RemoteError;
  assert.ok(error instanceof RemoteError);
  assert.equal(error.remoteName, "SimulationError");
  assert.equal(error.remoteMessage, "not in real-time mode");
  assert.equal(
    error.message,
    "SimulationError: not in real-time mode (raised by peer)",
  );
  assert.match(error.remoteTraceback, /^Traceback[\s\S]*simmanager/);
  await raw.close?.();
});

Deno.test("errorFormat: other error contents are shown, never called into", async () => {
  const [a, raw] = createMemoryPair();
  await using client = new Channel(a);
  const reply = client.send("x");
  await readFrame(raw);
  await writeFrame(raw, [2, 0, { toString: "boom" }]);
  const error = await reply.catch((e) => e) as RemoteError;
  assert.ok(error instanceof RemoteError);
  assert.equal(error.remoteName, "");
  await raw.close?.();
});

Deno.test("RemoteError: a bare last line is the name of an error without a message (Python's `raise AssertionError`)", async () => {
  const python = new RemoteError(
    "peer",
    'Traceback (most recent call last):\n  File "x.py", line 1, in f\nAssertionError\n',
  );
  assert.equal(python.remoteName, "AssertionError");
  assert.equal(python.remoteMessage, "");
  assert.equal(python.message, "AssertionError (raised by peer)");
  // Text that is not a name stays the message.
  const text = new RemoteError("peer", "something went wrong\n");
  assert.equal(text.remoteName, "");
  assert.equal(text.remoteMessage, "something went wrong");
  // Ours, the same way.
  const [a, b] = createMemoryPair();
  await using client = new Channel(a);
  await using server = new Channel(b);
  const reply = client.send("x");
  await (await server.recv()).fail(new TypeError());
  const error = await reply.catch((e) => e);
  assert.ok(error instanceof RemoteError);
  assert.equal(error.remoteName, "TypeError");
  assert.equal(error.remoteMessage, "");
});
