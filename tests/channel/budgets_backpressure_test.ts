// Replies and unanswered requests as backpressure: maxConcurrentRequests,
// maxUnansweredSize and highWaterMark stop a channel reading from its peer.
import assert from "node:assert/strict";
import { frame } from "../_frames.ts";
import { Channel, createMemoryPair, type Request } from "../../channel/mod.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import { IncomingRequests } from "../../channel/_incoming_requests.ts";
import type { MessageWriter } from "../../channel/_message_writer.ts";
import { assertOtherPairWorks, utf8 } from "./_budgets_helpers.ts";

Deno.test("maxConcurrentRequests: requests taken and not answered stop the channel reading; answering resumes it", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b, { maxConcurrentRequests: 4 });
  try {
    const count = 100;
    const replies = Array.from({ length: count }, (_, i) => client.send(i));
    const taken: Request[] = [];
    for (let i = 0; i < 4; i++) taken.push(await server.recv());
    let more = false;
    const fifth = server.recv().then((request) => {
      more = true;
      return request;
    });
    for (let i = 0; i < 5; i++) await assertOtherPairWorks();
    assert.ok(!more, "a fifth request was read with 4 unanswered");
    assert.equal(server.maxConcurrentRequests, 4);
    for (const request of taken) await request.reply(request.content);
    await (await fifth).reply(4);
    for (let i = 5; i < count; i++) {
      const request = await server.recv();
      await request.reply(request.content);
    }
    assert.deepEqual(
      await Promise.all(replies),
      Array.from({ length: count }, (_, i) => i),
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("highWaterMark: a peer that sends requests and never reads its replies stops being read; others are served", async () => {
  const [a, b] = createMemoryPair();
  let handled = 0;
  const server = new Channel(b, { highWaterMark: 1024 });
  const serving = (async () => {
    for await (const request of server) {
      handled++;
      // Synchronous handler: answered at once, 4 KiB each.
      request.reply("r".repeat(4096)).catch(() => {});
    }
  })();
  const writer = a.writable.getWriter();
  const count = 1000;
  let written = 0;
  const sending = (async () => {
    const codec = new JsonCodec();
    for (let i = 0; i < count; i++) {
      await writer.write(frame(codec.encode([0, i, "echo"])));
      written++;
    }
  })().catch(() => {});
  try {
    for (let i = 0; i < 10; i++) await assertOtherPairWorks();
    assert.ok(
      handled <= 8,
      `the server handled ${handled} requests of a peer that reads no reply`,
    );
    assert.ok(written < count, "the sender's writes were not slowed down");
  } finally {
    await server.close({ timeout: 0 });
    await serving;
    await sending;
    writer.releaseLock();
  }
});

Deno.test("maxUnansweredSize: the decoded cost of requests unanswered stops the channel reading; answering resumes it", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(a);
  const server = new Channel(b, { maxUnansweredSize: 32000 });
  try {
    const big = "x".repeat(600);
    const replies = Array.from({ length: 10 }, () => client.send(big));
    // About 608 JSON bytes × 32 = 19456 units, then 38912: the second
    // crosses the limit, and is received.
    const first = await server.recv();
    const second = await server.recv();
    let more = false;
    const third = server.recv().then((request) => {
      more = true;
      return request;
    });
    for (let i = 0; i < 5; i++) await assertOtherPairWorks();
    assert.ok(!more, "a third request was read with 38912 units unanswered");
    await first.reply(1);
    await second.reply(2);
    await (await third).reply(3);
    for (let i = 3; i < 10; i++) await (await server.recv()).reply(i + 1);
    assert.deepEqual(
      await Promise.all(replies),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("highWaterMark: replies that waited for the socket are queued as it drains, not all at once", async () => {
  let encodes = 0;
  class Counting extends JsonCodec {
    override encode(value: unknown): Uint8Array {
      encodes++;
      return super.encode(value);
    }
  }
  const requests = Array.from(
    { length: 10 },
    (_, i) => frame(utf8.encode(JSON.stringify([0, i, "q"]))),
  );
  const chunk = new Uint8Array(requests.reduce((n, r) => n + r.length, 0));
  requests.reduce((at, r) => (chunk.set(r, at), at + r.length), 0);
  let delivered = false;
  const closed = Promise.withResolvers<null>();
  // Each write waits until the test lets it finish; `writes` says when one starts.
  const writes: PromiseWithResolvers<void>[] = [];
  let finishWrite: (() => void) | null = null;
  let writeStarted = Promise.withResolvers<void>();
  const transport = {
    get readable(): ReadableStream<Uint8Array> {
      throw new Error("not used");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new Error("not used");
    },
    read(buffer: Uint8Array): Promise<number | null> {
      if (delivered) return closed.promise;
      delivered = true;
      buffer.set(chunk);
      return Promise.resolve(chunk.length);
    },
    write(bytes: Uint8Array): Promise<number> {
      const done = Promise.withResolvers<void>();
      writes.push(done);
      finishWrite = () => done.resolve();
      writeStarted.resolve();
      return done.promise.then(() => bytes.length);
    },
    close() {
      closed.resolve(null);
      for (const write of writes) write.resolve();
    },
  };
  const server = new Channel(transport, {
    codec: new Counting(),
    highWaterMark: 100,
  });
  try {
    const taken: Request[] = [];
    while (taken.length < 10) {
      taken.push(server.tryRecv() ?? await server.recv());
    }
    const replies = taken.map((r) => r.reply("x".repeat(1000)).catch(() => {}));
    await writeStarted.promise;
    assert.equal(
      encodes,
      1,
      "only the first reply is queued while the socket is behind",
    );
    writeStarted = Promise.withResolvers<void>();
    finishWrite!();
    await writeStarted.promise;
    assert.equal(encodes, 2, "one more reply once the socket drained");
    await server.close({ timeout: 0 });
    await Promise.all(replies);
  } finally {
    await server.close({ timeout: 0 });
  }
});

Deno.test("a wait for the socket adds one reaction to the writer's drain, however often it is woken", async () => {
  let reactions = 0;
  const never = new Promise<void>(() => {});
  // The writer's drain promise, which never settles: the peer reads nothing.
  const ready = {
    then: (fulfilled: () => void, rejected: () => void) => {
      reactions++;
      return never.then(fulfilled, rejected);
    },
    catch: (rejected: () => void) => {
      reactions++;
      return never.catch(rejected);
    },
  } as unknown as Promise<void>;
  const frames = { ready: undefined as Promise<void> | undefined, nudge() {} };
  const writer = { frames, write: () => undefined } as unknown as MessageWriter;
  const requests = new IncomingRequests(writer, { size: 0 }, {
    codec: new JsonCodec(),
    peer: "peer",
    maxQueuedRequests: 1e9,
    maxConcurrentRequests: 1e9,
    maxUnansweredSize: Infinity,
    formatError: (error) => String(error),
    signal: new AbortController().signal,
    carrier: undefined,
    fail: () => {},
  });
  const count = 1000;
  for (let i = 0; i < count; i++) requests.receive(i, i, 10);
  frames.ready = ready;
  // The read loop's wait: check again whenever it is woken.
  (async () => {
    for (let wait = requests.blocked(); wait !== undefined;) {
      await wait;
      wait = requests.blocked();
    }
  })();
  await Promise.resolve();
  // Each request taken and answered (its reply waits for the socket) wakes
  // the wait; the reply itself watches the drain once.
  for (let i = 0; i < count; i++) {
    requests.take()!.reply(null).catch(() => {});
    await Promise.resolve();
  }
  assert.ok(reactions <= count + 2, `${reactions} reactions`);
});
