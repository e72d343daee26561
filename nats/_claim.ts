// Claiming a subject for one endpoint (a container's name on NATS). NATS
// has no lock, so a claim is asked on the subject itself: a holder answers.
// Asking only before subscribing let two endpoints that claimed at the same
// moment both see nobody and both take the name; so a claimant asks again
// once it subscribes, and answers others' claims meanwhile: of two
// claimants that see each other (by an answer or by the other's claim),
// the one with the lower id keeps the name.
import { MAX_DELAY } from "../channel/_channel_options.ts";
import {
  flushWithin,
  isNoResponders,
  isTimeout,
  type Msg,
  type NatsConnection,
  newInbox,
} from "./_nats.ts";

/** How long a claimant waits for answers after it subscribed, at least. */
const MIN_WINDOW = 20;

/** One endpoint's claim of a subject. */
export class Claim {
  readonly #id = crypto.randomUUID();
  readonly #name: string;
  #held = false;
  /** Another claimant that keeps the subject, seen while claiming. */
  #lostTo: string | null = null;

  /** @param name This endpoint's name, for the others' error messages. */
  constructor(name: string) {
    this.#name = name;
  }

  /**
   * Before subscribing: fails if a live endpoint answers a claim on
   * `subject` (nobody there is the common case, known at once), unless it
   * is a claimant that yields to this one.
   */
  async ask(
    nc: NatsConnection,
    subject: string,
    timeout: number,
  ): Promise<void> {
    let owner: unknown;
    try {
      // nats.js's own timer: beyond setTimeout's range it fires at once.
      const reply = await nc.request(subject, this.#message(), {
        timeout: Math.min(timeout, MAX_DELAY),
      });
      owner = parseJson(reply.data);
    } catch (error) {
      if (isNoResponders(error)) return;
      // No answer: from a holder, or from the server itself? Only the
      // first is a name conflict.
      if (isTimeout(error)) await flushWithin(nc, timeout);
      throw new TypeError(
        `Cannot claim NATS subject "${subject}": something subscribes to it and did not answer the claim (${
          (error as Error).message
        }): a holder that is stuck, or a subscriber that is no aiomas endpoint (a wildcard such as "aiomas.>" or ">" gets every claim)`,
        { cause: error },
      );
    }
    if (!this.#beats(owner)) throw taken(subject, owner);
  }

  /** Whether an answer is from a claimant that yields to this one. */
  #beats(answer: unknown): boolean {
    const { id, held } = (answer ?? {}) as { id?: unknown; held?: unknown };
    // An endpoint of an older version answers holding: { name }.
    return typeof id === "string" && held === false && id > this.#id;
  }

  /**
   * Once subscribed (`rtt`: how long a round trip to the server took):
   * asks again and waits a few round trips for answers; fails if a holder
   * answers, or another claimant with a lower id is seen, and with a
   * `TimeoutError` if the server does not answer within `timeout` ms.
   */
  async confirm(
    nc: NatsConnection,
    subject: string,
    rtt: number,
    timeout: number,
  ): Promise<void> {
    const inbox = newInbox(nc);
    let winner: unknown = null;
    const answers = nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error !== null || winner !== null) return;
        const answer = parseJson(msg.data);
        if (!this.#beats(answer)) winner = answer ?? {};
      },
    });
    try {
      nc.publish(subject, this.#message(), { reply: inbox });
      await flushWithin(nc, timeout);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(MIN_WINDOW, 4 * rtt))
      );
    } finally {
      answers.unsubscribe();
    }
    if (winner !== null) throw taken(subject, winner);
    if (this.#lostTo !== null) {
      throw taken(subject, { name: this.#lostTo });
    }
    this.#held = true;
  }

  /** Answers another endpoint's claim of the subject (ours is ignored). */
  answer(msg: Msg, claim: { id?: unknown; name?: unknown }): void {
    if (claim.id === this.#id) return;
    if (!this.#held && typeof claim.id === "string" && claim.id < this.#id) {
      // It asked after subscribing or before: either way it keeps it.
      this.#lostTo ??= typeof claim.name === "string" ? claim.name : "";
    }
    msg.respond(
      JSON.stringify({ name: this.#name, id: this.#id, held: this.#held }),
    );
  }

  #message(): string {
    return JSON.stringify({ op: "claim", id: this.#id, name: this.#name });
  }
}

function taken(subject: string, owner: unknown): TypeError {
  const name = (owner as { name?: unknown } | null)?.name;
  return new TypeError(
    `Cannot claim NATS subject "${subject}": ${
      typeof name === "string" && name !== "" ? name : "another endpoint"
    } has it and is alive`,
  );
}

/** JSON of a message, or null. */
export function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}
