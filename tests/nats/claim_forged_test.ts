// A claim that comes in on the name's subject proves nothing: anyone who
// may publish there can send one (under the fence of docs/nats.md, every
// user of the account), while only who subscribes there can answer a claim.
// So a claim this endpoint would yield to only makes it ask again; it
// yields to an answer. Over a stand-in for the NATS connection, which
// delivers what the test says when, with no server and no timing.
import assert from "node:assert/strict";
import { Claim } from "../../nats/_claim.ts";
import type { Msg, NatsConnection } from "../../nats/_nats.ts";

/** What another endpoint's claim says: the lowest id there is. */
const FORGED = { id: "", name: "nats://nobody/", again: true };

/**
 * A connection on which nobody holds the subject. `onClaim(n, inbox)` is
 * called for each claim this endpoint publishes (the n-th, from 1), before
 * the flush that follows it settles; `answer(inbox, body)` delivers an
 * answer to it.
 */
function standIn(onClaim: (n: number, inbox: string) => void) {
  const inboxes = new Map<string, (error: null, msg: Msg) => void>();
  let claims = 0;
  const nc = {
    request: () =>
      Promise.reject({ isNoResponders: () => true, message: "503" }),
    subscribe: (
      subject: string,
      opts: {
        callback: typeof inboxes extends Map<string, infer C> ? C : never;
      },
    ) => {
      inboxes.set(subject, opts.callback);
      return { unsubscribe: () => inboxes.delete(subject) };
    },
    publish: (_subject: string, _data: string, opts: { reply: string }) => {
      onClaim(++claims, opts.reply);
    },
    flush: () => Promise.resolve(),
    getServer: () => "stand-in",
  };
  return {
    nc: nc as unknown as NatsConnection,
    claims: () => claims,
    answer(inbox: string, body: unknown) {
      const data = new TextEncoder().encode(JSON.stringify(body));
      inboxes.get(inbox)?.(null, { data } as unknown as Msg);
    },
  };
}

/** A message whose answer is dropped (the forger's reply subject). */
const msg = { respond: () => true } as unknown as Msg;

Deno.test("a forged claim with the lowest id does not keep an endpoint from taking a free name", async () => {
  const claim = new Claim("nats://alice/");
  const conn = standIn(() => claim.answer(msg, FORGED));
  await claim.ask(conn.nc, "aiomas.alice", 1000);
  await claim.confirm(conn.nc, "aiomas.alice", 0, 1000);
  // It asked again, as many times as claims kept coming (at most 4), and
  // nobody answered.
  assert.equal(conn.claims(), 5);
});

Deno.test("a claimant whose claim came, and who answers when asked again, keeps the name", async () => {
  const claim = new Claim("nats://alice/");
  const conn = standIn((n, inbox) => {
    // Its claim came while the first was out; it answers the second.
    if (n === 1) claim.answer(msg, { id: "", name: "nats://b/" });
    else conn.answer(inbox, { id: "", name: "nats://b/", held: false });
  });
  await assert.rejects(
    claim.confirm(conn.nc, "aiomas.alice", 0, 1000),
    /Cannot claim NATS subject "aiomas\.alice": nats:\/\/b\/ has it and is alive/,
  );
});

Deno.test("a claimant whose second claim comes while this one asks again is asked once more, and keeps the name", async () => {
  const claim = new Claim("nats://alice/");
  const rival = { id: "", name: "nats://b/" };
  const conn = standIn((n, inbox) => {
    // Its ask (before it subscribed), then its claim once subscribed,
    // each while this one asks; then it answers.
    if (n <= 2) claim.answer(msg, rival);
    else conn.answer(inbox, { ...rival, held: false });
  });
  await assert.rejects(
    claim.confirm(conn.nc, "aiomas.alice", 0, 1000),
    /nats:\/\/b\/ has it and is alive/,
  );
  assert.equal(conn.claims(), 3);
});

Deno.test("a holder back on NATS keeps its name against forged claims to have come back too", async () => {
  const claim = new Claim("nats://alice/");
  const conn = standIn(() => claim.answer(msg, FORGED));
  await claim.confirm(conn.nc, "aiomas.alice", 0, 1000);
  claim.away();
  const lostTo = await claim.reassert(
    conn.nc,
    "aiomas.alice",
    1000,
    new AbortController().signal,
  );
  assert.equal(lostTo, null);
});

Deno.test("a holder back on NATS yields to one that came back too, with a lower id, and answers when asked again", async () => {
  const claim = new Claim("nats://alice/");
  let away = false;
  const conn = standIn((_n, inbox) => {
    if (!away) return;
    claim.answer(msg, FORGED);
    conn.answer(inbox, { id: "", name: "nats://b/", held: true, again: true });
  });
  await claim.confirm(conn.nc, "aiomas.alice", 0, 1000);
  claim.away();
  away = true;
  const lostTo = await claim.reassert(
    conn.nc,
    "aiomas.alice",
    1000,
    new AbortController().signal,
  );
  assert.deepEqual(lostTo, { name: "nats://b/", stayed: false });
});
