// When FrameWriter writes what was queued: frames of one turn in one write,
// holding for frames to come, nudge(), start(), and abort releasing a hold.
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { concat, frame } from "../_frames.ts";
import {
  microtasks,
  onError,
  recordingWriter,
  utf8,
} from "./_frame_writer_helpers.ts";
import { FrameWriter } from "../../channel/_frame_writer.ts";

function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

Deno.test("frames queued in one turn go out in one write, within microtasks", async () => {
  const { sink, writer } = recordingWriter();
  writer.write(utf8.encode("a"));
  writer.write(utf8.encode("bc"));
  assert.equal(sink.chunks.length, 0, "nothing is written synchronously");
  // No event-loop turn is needed: a lone request is not delayed.
  await microtasks(3);
  assert.equal(sink.chunks.length, 1);
  assert.deepEqual(
    sink.chunks[0],
    concat([frame(utf8.encode("a")), frame(utf8.encode("bc"))]),
  );
  await writer.close();
});

Deno.test("while holding, a flush waits for nudge() and takes the later frames along", async () => {
  let holding = true;
  const { sink, writer } = recordingWriter(() => holding);
  writer.write(utf8.encode("1"));
  await microtasks(5);
  assert.equal(sink.chunks.length, 0, "held for the frames to come");
  writer.write(utf8.encode("2"));
  holding = false;
  writer.nudge();
  await microtasks(3);
  assert.equal(sink.chunks.length, 1);
  assert.deepEqual(
    sink.chunks[0],
    concat([frame(utf8.encode("1")), frame(utf8.encode("2"))]),
  );
  await writer.close();
});

Deno.test("nudge() writes a held or scheduled flush at once, and only once", async () => {
  let holding = true;
  const { sink, writer } = recordingWriter(() => holding);
  // Held: the flush has started and waits.
  writer.write(utf8.encode("1"));
  await microtasks(3);
  holding = false;
  writer.nudge();
  assert.equal(sink.chunks.length, 1, "written within nudge()");
  await microtasks(3);
  // Scheduled: the flush's microtask has not run yet.
  writer.write(utf8.encode("2"));
  writer.nudge();
  assert.equal(sink.chunks.length, 2, "written within nudge()");
  await macrotask();
  assert.deepEqual(sink.chunks, [
    frame(utf8.encode("1")),
    frame(utf8.encode("2")),
  ], "the scheduled microtask and the timer write nothing more");
  await writer.close();
});

Deno.test("start() runs a scheduled flush at once: it writes, or holds; nothing if none is scheduled", async () => {
  let holding = false;
  const { sink, writer } = recordingWriter(() => holding);
  writer.start();
  assert.equal(sink.chunks.length, 0, "nothing scheduled");
  writer.write(utf8.encode("1"));
  writer.start();
  assert.equal(sink.chunks.length, 1, "scheduled: written without a microtask");
  await writer.drained();
  holding = true;
  writer.write(utf8.encode("2"));
  writer.start();
  await microtasks(3);
  assert.equal(sink.chunks.length, 1, "holding: not written");
  holding = false;
  writer.nudge();
  await writer.drained();
  assert.equal(sink.chunks.length, 2);
  await writer.close();
});

Deno.test("while holding, a flush waits no longer than the next turn of the event loop", async () => {
  const { sink, writer } = recordingWriter(() => true);
  writer.write(utf8.encode("slow handler elsewhere"));
  await microtasks(3);
  assert.equal(sink.chunks.length, 0);
  await macrotask();
  await microtasks(3);
  assert.equal(sink.chunks.length, 1);
  await writer.close();
});

Deno.test("frames queued while a write is in flight go in the next write together", async () => {
  const gates: PromiseWithResolvers<number>[] = [];
  const chunks: Uint8Array[] = [];
  const writer = new FrameWriter((chunk) => {
    chunks.push(chunk.slice());
    const gate = Promise.withResolvers<number>();
    gates.push(gate);
    return gate.promise.then(() => chunk.length);
  }, { highWaterMark: 1 << 20, onError });
  writer.write(utf8.encode("first"));
  await microtasks(3);
  assert.equal(chunks.length, 1);
  for (const text of ["x", "y", "z"]) writer.write(utf8.encode(text));
  gates[0].resolve(0);
  await microtasks(5);
  assert.equal(chunks.length, 2);
  assert.deepEqual(
    chunks[1],
    concat(["x", "y", "z"].map((t) => frame(utf8.encode(t)))),
  );
  gates[1].resolve(0);
  await writer.drained();
  await writer.close();
});

Deno.test("abort releases a flush that is holding", async () => {
  const { sink, writer } = recordingWriter(() => true);
  writer.write(utf8.encode("dropped"));
  await microtasks(3);
  writer.abort(new Error("closing"));
  // Released at once, not by the next turn of the event loop.
  await microtasks(3);
  assert.ok(writer.idle);
  assert.equal(sink.chunks.length, 0);
});
