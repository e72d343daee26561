// What unanswered requests may hold: charged by what they decode into
// (Codec.lastDecodedCost), per channel (maxUnansweredSize) and per process
// (setUnansweredBudget).
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import {
  Channel,
  createMemoryPair,
  DEFAULT_MAX_UNANSWERED_SIZE,
  type Request,
  setUnansweredBudget,
  unansweredBudget,
} from "../../channel/mod.ts";
import { JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { requestFrame } from "../_request_frame.ts";
import { within } from "../_within.ts";

/** Lets the channels run for a while (they would read meanwhile if they could). */
async function turns(count = 20): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A request of `count` empty bins: 2 bytes in, 256 units out each. */
function emptyBins(count: number): Uint8Array[] {
  return Array.from({ length: count }, () => new Uint8Array(0));
}

function msgpackPair(serverOptions: { maxUnansweredSize?: number } = {}) {
  const [a, b] = createMemoryPair();
  const client = new Channel(a, { codec: new MsgPackCodec() });
  const server = new Channel(b, {
    codec: new MsgPackCodec(),
    ...serverOptions,
  });
  return { client, server };
}

/** Receives requests while the server reads them, counting them. */
function receiver(server: Channel) {
  const received: Request[] = [];
  const done = (async () => {
    for await (const request of server) received.push(request);
  })().catch(() => {
    // Closing ends the loop with ConnectionClosedError when it was cut.
  });
  return { received, done };
}

Deno.test("maxUnansweredSize: long JSON strings are charged about their bytes, so many are received at once", async () => {
  // 600 KB of JSON and 100 KB, charged by their bound: the whole budget
  // (17 Mi units) and 3.2 Mi; four and twenty of them would fill the
  // default 64 Mi units.
  for (const [length, count] of [[600_000, 12], [100_000, 40]]) {
    const [a, b] = createMemoryPair();
    const client = new Channel(a, { codec: new JsonCodec() });
    const server = new Channel(b, { codec: new JsonCodec() });
    try {
      const payload = "x".repeat(length);
      const replies = Array.from({ length: count }, () => client.send(payload));
      // Awaited below; a failed run closes the channels first.
      for (const reply of replies) reply.catch(() => {});
      const requests: Request[] = [];
      for (let i = 0; i < count; i++) {
        requests.push(await within(5000, `request ${i}`, server.recv()));
      }
      for (const request of requests) await request.reply(null);
      await within(5000, "replies", Promise.all(replies));
    } finally {
      await client.close();
      await server.close();
    }
  }
});

Deno.test("maxUnansweredSize: MsgPack empty bins are charged by what they decode into, not by their payload bytes", async () => {
  const { client, server } = msgpackPair({ maxUnansweredSize: 600_000 });
  const before = unansweredBudget().held;
  try {
    // Each request is 1000 empty bins: about 2 KB of payload, charged
    // about 2 KB × 128 = 256 Ki units. Charged by payload bytes, all ten
    // (20 KB) would be read; by decoded cost the third crosses 600 000.
    const replies = Array.from(
      { length: 10 },
      () => client.send(emptyBins(1000)),
    );
    const { received, done } = receiver(server);
    await turns();
    assert.equal(
      received.length,
      3,
      "requests read beyond the decoded cost limit",
    );
    const held = unansweredBudget().held - before;
    assert.ok(held >= 3 * 2000 * 128 && held < 3 * 2100 * 128, `${held} units`);
    // Answering resumes reading: the rest come in as the first are answered.
    let answered = 0;
    while (answered < 10) {
      if (answered < received.length) {
        await received[answered++].reply(answered);
      } else {
        await turns(1);
      }
    }
    assert.deepEqual(
      await Promise.all(replies),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    assert.equal(unansweredBudget().held, before);
    await client.close();
    await server.close();
    await done;
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("setUnansweredBudget: at the process-wide budget every channel stops reading; answers and closed channels free it", async () => {
  const before = unansweredBudget().held;
  // Two requests of 1000 empty bins (about 256 Ki units each) reach it.
  const previous = setUnansweredBudget(before + 400_000);
  const first = msgpackPair();
  const second = msgpackPair();
  const third = msgpackPair();
  try {
    const one = receiver(first.server);
    const two = receiver(second.server);
    const three = receiver(third.server);
    const firstReplies = [0, 1, 2].map(() =>
      first.client.send(emptyBins(1000))
    );
    // They reject when the first server closes below.
    const firstOutcome = Promise.allSettled(firstReplies);
    await turns();
    // The first channel crossed the budget with its second request.
    assert.equal(one.received.length, 2);
    assert.ok(unansweredBudget().held - before >= 400_000);
    // Another connection is not read now, even its small requests.
    const secondReply = second.client.send("small");
    secondReply.catch(() => {});
    await turns();
    assert.equal(two.received.length, 0, "read past the process-wide budget");
    // One answer brings the total below the budget: both read again.
    await one.received[0].reply("a");
    await turns();
    assert.equal(two.received.length, 1);
    await two.received[0].reply("b");
    assert.equal(await secondReply, "b");
    // The first channel's third request is read now too (crossing again).
    assert.equal(one.received.length, 3);
    const thirdReply = third.client.send("small");
    thirdReply.catch(() => {});
    await turns();
    assert.equal(three.received.length, 0, "read past the process-wide budget");
    // Closing the first channel frees all its requests held at once.
    await first.server.close({ timeout: 1 });
    const outcomes = await firstOutcome;
    assert.deepEqual(outcomes.map((outcome) => outcome.status), [
      "fulfilled",
      "rejected",
      "rejected",
    ]);
    await turns();
    assert.equal(three.received.length, 1);
    await three.received[0].reply("c");
    assert.equal(await thirdReply, "c");
    // Late answers after the close free nothing twice.
    await one.received[1].reply("late").catch(() => {});
    await one.received[2].reply("late").catch(() => {});
    assert.equal(unansweredBudget().held, before);
    for (const pair of [first, second, third]) {
      await pair.client.close().catch(() => {});
      await pair.server.close();
    }
    await Promise.all([one.done, two.done, three.done]);
  } finally {
    setUnansweredBudget(previous);
    for (const pair of [first, second, third]) {
      await pair.client.close().catch(() => {});
      await pair.server.close().catch(() => {});
    }
  }
});

Deno.test("maxUnansweredSize: under the defaults 1024 small MsgPack requests are all received while unanswered", async () => {
  assert.ok(1024 * 100 * 128 < DEFAULT_MAX_UNANSWERED_SIZE);
  const { client, server } = msgpackPair();
  const before = unansweredBudget().held;
  try {
    const text = "y".repeat(90);
    const replies = Array.from({ length: 1024 }, () => client.send(text));
    const requests: Request[] = [];
    for (let i = 0; i < 1024; i++) requests.push(await server.recv());
    assert.equal(requests.length, 1024);
    assert.ok(unansweredBudget().held - before <= 1024 * 100 * 128);
    for (const [i, request] of requests.entries()) await request.reply(i);
    assert.equal((await Promise.all(replies)).length, 1024);
    assert.equal(unansweredBudget().held, before);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("setUnansweredBudget: a peer that does not read its replies does not hold the budget, and other connections go on", async () => {
  const before = unansweredBudget().held;
  // One request of 1000 empty bins (about 256 Ki units) crosses it.
  const previous = setUnansweredBudget(before + 200_000);
  // The peer writes raw frames and never reads what comes back.
  const [peer, end] = createMemoryPair();
  const server = new Channel(end, {
    codec: new MsgPackCodec(),
    highWaterMark: 1024,
  });
  const other = msgpackPair();
  const writer = peer.writable.getWriter();
  try {
    await writer.write(requestFrame(1, emptyBins(1000)));
    const request = await within(5000, "the request", server.recv());
    assert.ok(unansweredBudget().held - before >= 200_000);
    // The reply waits for a peer that never reads it.
    const reply = request.reply(new Uint8Array(256 * 1024));
    reply.catch(() => {});
    // The request's values are no longer held: the budget is free again,
    // and another connection is read and answered.
    assert.equal(unansweredBudget().held, before);
    const answered = other.client.send("small");
    const served = (async () => {
      const incoming = await other.server.recv();
      await incoming.reply("answered");
    })();
    assert.equal(
      await within(5000, "a call on another connection", answered),
      "answered",
    );
    await served;
  } finally {
    setUnansweredBudget(previous);
    writer.releaseLock();
    await server.close({ timeout: 1 }).catch(() => {});
    await peer.readable.cancel().catch(() => {});
    await other.client.close();
    await other.server.close();
  }
});

Deno.test("maxUnansweredSize: MsgPack requests of 16 KiB or more are charged about their bytes, so many bulk requests are received at once", async () => {
  const { client, server } = msgpackPair();
  const { received, done } = receiver(server);
  try {
    // 32 × 64 KiB: 2 MiB of bins. At 128 units per byte (8 Mi units
    // each) the channel would stop reading after 8 of them.
    const calls = Array.from(
      { length: 32 },
      () => client.send(new Uint8Array(64 * 1024)).catch(() => {}),
    );
    await within(
      10_000,
      "32 bulk requests received",
      (async () => {
        while (received.length < 32) await turns(1);
      })(),
    );
    assert.ok(unansweredBudget().held < 32 * 80 * 1024);
    for (const request of received) await request.reply(null);
    await Promise.all(calls);
  } finally {
    await client.close();
    await server.close();
    await done;
  }
});
