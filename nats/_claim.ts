// Claiming a subject for one endpoint (a container's name on NATS). NATS
// has no lock, so a claim is asked on the subject itself: a holder answers.
// Asking only before subscribing let two endpoints that claimed at the same
// moment both see nobody and both take the name; so a claimant asks again
// once it subscribes, and answers others' claims meanwhile: of two
// claimants that see each other (by an answer or by the other's claim),
// the one with the lower id keeps the name.
//
// A holder whose connection is down is not on NATS: another endpoint may
// claim the name meanwhile, and nats.js subscribes the first again when it
// is back. So a holder that comes back asserts its claim again (`again`
// in its claim and its answers meanwhile): a holder that stayed on NATS
// keeps the name, and of two that came back at once the lower id keeps it.
import {
  flushWithin,
  isNoResponders,
  isTimeout,
  type Msg,
  type NatsConnection,
  newInbox,
} from "./_nats.ts";
import { MAX_DELAY } from "../channel/_channel_options.ts";

/** How long a claimant waits for answers after it subscribed, at least. */
const MIN_WINDOW = 20;
/**
 * How long a holder that came back waits for answers, at least: an answer
 * missed leaves two holders for good, while a longer wait only keeps the
 * one that yields a little longer (and fails the sessions it accepted
 * meanwhile).
 */
const MIN_REASSERT_WINDOW = 100;

/**
 * How many times a claimant asks again while claims it would yield to
 * keep coming in (an honest rival sends two; a forger may never stop).
 */
const MAX_ASKS_AGAIN = 4;

/** What a claim or an answer says of its endpoint. */
interface Claimant {
  id?: unknown;
  name?: unknown;
  held?: unknown;
  again?: unknown;
}

/** The holder a claim asserted again yields to. */
export interface LostTo {
  /** Its name (`""` if it gave none). */
  readonly name: string;
  /** It stayed on NATS (else it came back at the same time, with a lower id). */
  readonly stayed: boolean;
}

/** One endpoint's claim of a subject. */
export class Claim {
  readonly #id = crypto.randomUUID();
  readonly #name: string;
  /** Held, being claimed, or away (held, and to be asserted again). */
  #state: "claiming" | "held" | "away" = "claiming";
  /**
   * A claim came that this one would yield to. Anyone who may publish on
   * the subject can send one, so it is only a reason to ask again: who
   * really subscribes there answers.
   */
  #challenged = false;
  /** One that outranks this one answered while it asserted its claim again. */
  #outranked: LostTo | null = null;

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
    const { id, held } = (answer ?? {}) as Claimant;
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
    let winner: unknown = null;
    const window = Math.max(MIN_WINDOW, 4 * rtt);
    const onAnswer = (answer: unknown) => {
      if (winner === null && !this.#beats(answer)) winner = answer ?? {};
    };
    await this.#ask(
      nc,
      subject,
      { window, timeout, signal: undefined, onAnswer },
      () => winner !== null,
    );
    if (winner !== null) throw taken(subject, winner);
    this.#state = "held";
  }

  /**
   * The holder's connection is down: claims seen from now on are judged as
   * by a holder that comes back, and the claim is to be asserted again.
   */
  away(): void {
    if (this.#state === "claiming") return;
    this.#state = "away";
    this.#challenged = false;
    this.#outranked = null;
  }

  /**
   * The holder's connection is back (nats.js has subscribed it again):
   * asserts the claim again and waits a few round trips for answers.
   *
   * @returns The holder this one yields to, or null if it keeps the
   *   subject.
   * @throws A `TimeoutError` if the server does not answer within
   *   `timeout` ms, or the signal's reason (then it is still away).
   */
  async reassert(
    nc: NatsConnection,
    subject: string,
    timeout: number,
    signal: AbortSignal,
  ): Promise<LostTo | null> {
    this.#state = "away";
    const started = performance.now();
    await flushWithin(nc, timeout, signal);
    const window = Math.max(
      MIN_REASSERT_WINDOW,
      4 * (performance.now() - started),
    );
    const onAnswer = (answer: unknown) => {
      const { id, name, held, again } = (answer ?? {}) as Claimant;
      // A claimant, or one that yields itself: it does not keep the name.
      if (held === false) return;
      const lostTo = {
        name: typeof name === "string" ? name : "",
        stayed: again !== true,
      };
      if (lostTo.stayed || typeof id !== "string" || id < this.#id) {
        this.#outranked ??= lostTo;
      }
    };
    await this.#ask(
      nc,
      subject,
      { window, timeout, signal, onAnswer },
      () => this.#outranked !== null,
    );
    if (this.#outranked !== null) return this.#outranked;
    this.#state = "held";
    return null;
  }

  /**
   * Runs a contest, then another while claims this one would yield to came
   * during the last (up to {@linkcode MAX_ASKS_AGAIN} more), until
   * `decided()`: a rival that subscribed after this claim went out answers
   * the next one, and an honest rival claims twice (before it subscribes,
   * and after), the second maybe during the first ask again.
   */
  async #ask(
    nc: NatsConnection,
    subject: string,
    contest: {
      window: number;
      timeout: number;
      signal: AbortSignal | undefined;
      onAnswer: (answer: unknown) => void;
    },
    decided: () => boolean,
  ): Promise<void> {
    const { window, timeout, signal, onAnswer } = contest;
    await this.#contest(nc, subject, window, timeout, signal, onAnswer);
    for (
      let round = 0;
      !decided() && this.#challenged && round < MAX_ASKS_AGAIN;
      round++
    ) {
      this.#challenged = false;
      await this.#contest(nc, subject, window, timeout, signal, onAnswer);
    }
  }

  /**
   * Publishes this claim on `subject` and calls `onAnswer` with each answer
   * that comes within `window` ms after the server has it.
   */
  async #contest(
    nc: NatsConnection,
    subject: string,
    window: number,
    timeout: number,
    signal: AbortSignal | undefined,
    onAnswer: (answer: unknown) => void,
  ): Promise<void> {
    const inbox = newInbox(nc);
    const answers = nc.subscribe(inbox, {
      callback: (error, msg) => {
        if (error === null) onAnswer(parseJson(msg.data));
      },
    });
    try {
      nc.publish(subject, this.#message(), { reply: inbox });
      await flushWithin(nc, timeout, signal);
      await pause(window, signal);
    } finally {
      answers.unsubscribe();
    }
  }

  /**
   * Answers another endpoint's claim of the subject (ours is ignored). A
   * claim this one would yield to makes it ask again before it decides.
   */
  answer(msg: Msg, claim: Claimant): void {
    if (claim.id === this.#id) return;
    const lower = typeof claim.id === "string" && claim.id < this.#id;
    if (claim.again === true) {
      // A holder that came back: a claimant yields to it; one that came
      // back too, if its id is lower; one that stayed keeps the name.
      if (this.#state === "claiming" || (this.#state === "away" && lower)) {
        this.#challenged = true;
      }
    } else if (this.#state === "claiming" && lower) {
      // It asked after subscribing or before: either way it keeps it.
      this.#challenged = true;
    }
    msg.respond(JSON.stringify(this.#answer()));
  }

  #answer(): Claimant {
    const answer: Claimant = {
      name: this.#name,
      id: this.#id,
      held: this.#state !== "claiming",
    };
    if (this.#state === "away") {
      // Once it knows it yields, it answers as one that does not hold:
      // otherwise two could each yield to the other.
      if (this.#outranked !== null) answer.held = false;
      else answer.again = true;
    }
    return answer;
  }

  #message(): string {
    const claim: Claimant & { op: string } = {
      op: "claim",
      id: this.#id,
      name: this.#name,
    };
    if (this.#state === "away") claim.again = true;
    return JSON.stringify(claim);
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

/** Waits `ms` ms, or until `signal` aborts (then rejects with its reason). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** JSON of a message, or null. */
export function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}
