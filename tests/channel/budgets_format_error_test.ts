// formatError: how an error is shown to a peer, at a bounded size, without
// calling a thrown object's toString or reading a peer's text as frames.
import assert from "node:assert/strict";
import { formatError, formatErrorList } from "../../channel/_traceback.ts";

Deno.test("formatError: a thrown object is shown as JSON, never through its toString", () => {
  const thrown = {
    code: 42,
    toString() {
      throw new Error("a peer's toString must not be called");
    },
  };
  assert.equal(
    formatError({ code: 42, reason: "x" }),
    'Error: {"code":42,"reason":"x"}\n',
  );
  assert.equal(formatError(thrown), 'Error: {"code":42}\n');
  assert.deepEqual(formatErrorList({ a: 1 }).slice(0, 2), ["Error", '{"a":1}']);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(formatError(cyclic), "Error: [object Object]\n");
  assert.equal(formatError(7), "Error: 7\n");
  assert.equal(formatError("text"), "Error: text\n");
  const long = formatError({ data: "y".repeat(5000) });
  assert.ok(long.length < 1100, `${long.length} characters`);
  assert.match(long, /… \(5011 characters\)\n$/);
});

Deno.test("formatError: a peer's text in the message is neither read as frames nor sent back at any size", () => {
  // What a handler's error may quote: a path or an argument from the peer.
  const fake = "\n    at evil (file:///evil.ts:1:1)".repeat(50);
  const fromPeer = "\n at " + "a (".repeat(100_000) + "x" + fake;
  const error = new RangeError(`No such name: ${fromPeer}`);
  const text = formatError(error);
  assert.doesNotMatch(text, /evil\.ts", line/);
  assert.match(text, /^Traceback \(most recent call last\):\n {2}File "/);
  assert.match(
    text,
    /\nRangeError: No such name: \n at a \(a \(.*… \(\d+ characters\)\n$/s,
  );
  assert.ok(text.length < 20_000, `${text.length} characters`);
  const [name, message] = formatErrorList(error);
  assert.equal(name, "RangeError");
  assert.ok(message.length < 10_100, `${message.length} characters`);
  // A message changed after the stack was taken: its lines are scanned,
  // but at most 100 of them.
  const changed = new Error("short");
  changed.message = "other";
  changed.stack = `Error: short${"\n    at f (file:///x.ts:1:1)".repeat(1000)}`;
  assert.equal(formatError(changed).match(/ File "/g)?.length, 100);
});

Deno.test("formatError: frames of every V8 form", () => {
  const error = new Error("e");
  error.stack = [
    "Error: e",
    "    at named (file:///a.ts:10:5)",
    "    at async Foo.bar (file:///b c.ts:20:7)",
    "    at file:///c.ts:30:1",
    "    at async Promise.all (index 0)",
    "    at eval (eval at <anonymous> (file:///d.ts:1:1), <anonymous>:4:2)",
    "    at not a frame",
  ].join("\n");
  assert.equal(
    formatError(error),
    "Traceback (most recent call last):\n" +
      '  File "eval at <anonymous> (file:///d.ts:1:1), <anonymous>", line 4, in eval\n' +
      '  File "file:///c.ts", line 30, in <module>\n' +
      '  File "file:///b c.ts", line 20, in Foo.bar\n' +
      '  File "file:///a.ts", line 10, in named\n' +
      "Error: e\n",
  );
});
