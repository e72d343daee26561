// A channel that stopped reading (its requests unanswered, or the process at
// its budget) still notices its peer leaving: the handlers of the peer's
// requests are aborted rather than kept, with what they hold, until they
// answer.
import assert from "node:assert/strict";
import {
  Channel,
  createMemoryPair,
  type Request,
  setUnansweredBudget,
  unansweredBudget,
} from "../../channel/mod.ts";
import { JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { within } from "../_within.ts";
import { connLike } from "./_conn_like.ts";
import { TRANSPORTS } from "./_pairs.ts";

/** Settles when `signal` aborts, with its reason. */
function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(signal.reason), {
      once: true,
    })
  );
}

/** Takes `count` requests of `server`, leaving them unanswered. */
async function take(server: Channel, count: number): Promise<Request[]> {
  const taken: Request[] = [];
  for (let i = 0; i < count; i++) taken.push(await server.recv());
  return taken;
}

/** Waits until every request's handler is told its caller is gone. */
async function assertAborted(taken: Request[]): Promise<void> {
  const reasons = await within(
    10_000,
    "the aborts of the requests of a peer that left",
    Promise.all(taken.map((request) => aborted(request.signal))),
  );
  for (const reason of reasons) {
    assert.ok(reason instanceof ConnectionClosedError, String(reason));
  }
}

for (const [name, make] of Object.entries(TRANSPORTS)) {
  Deno.test(`${name}: a peer that leaves with maxConcurrentRequests unanswered is noticed; their handlers are aborted`, async () => {
    await using pair = await make(JsonCodec);
    pair.server.maxConcurrentRequests = 2;
    // The third stays unread: the server stops reading at two.
    const calls = [0, 1, 2].map((i) => pair.client.send(i).catch(() => {}));
    const taken = await take(pair.server, 2);
    await pair.client.close({ timeout: 0 });
    await Promise.all(calls);
    await assertAborted(taken);
    await within(10_000, "the server's close", pair.server.closed);
  });
}

Deno.test("a peer that leaves with maxUnansweredSize spent is noticed", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(connLike(a), { codec: new JsonCodec() });
  const server = new Channel(connLike(b), {
    codec: new JsonCodec(),
    maxUnansweredSize: 100_000,
  });
  try {
    // Charged about their 60 000 bytes each: the second reaches the limit.
    const big = "x".repeat(60_000);
    const calls = [0, 1].map(() => client.send(big).catch(() => {}));
    const taken = await take(server, 2);
    await client.close({ timeout: 0 });
    await Promise.all(calls);
    await assertAborted(taken);
    await within(10_000, "the server's close", server.closed);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a peer that leaves while the process-wide budget stops its channel reading is noticed", async () => {
  const before = unansweredBudget().held;
  const previous = setUnansweredBudget(before + 400_000);
  const [a, b] = createMemoryPair();
  const [c, d] = createMemoryPair();
  const first = new Channel(a, { codec: new MsgPackCodec() });
  const firstServer = new Channel(b, { codec: new MsgPackCodec() });
  const second = new Channel(connLike(c), { codec: new MsgPackCodec() });
  const secondServer = new Channel(connLike(d), { codec: new MsgPackCodec() });
  try {
    // Two requests of 1000 empty bins (about 256 Ki units each) reach it.
    const bins = Array.from({ length: 1000 }, () => new Uint8Array(0));
    const spending = [0, 1].map(() => first.send(bins).catch(() => {}));
    const spent = await take(firstServer, 2);
    assert.ok(unansweredBudget().held - before >= 400_000);
    // The second server reads this request's bytes, but does not take it.
    const waiting = second.send("small").catch(() => {});
    const untaken = assert.rejects(secondServer.recv(), ConnectionClosedError);
    await second.close({ timeout: 0 });
    await waiting;
    await within(10_000, "the second server's close", secondServer.closed);
    await untaken;
    for (const request of spent) await request.reply(null);
    await Promise.all(spending);
  } finally {
    setUnansweredBudget(previous);
    await first.close();
    await firstServer.close();
    await second.close();
    await secondServer.close();
  }
});
