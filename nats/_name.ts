// Keeping a claimed subject (a container's name) across reconnections.
// While the holder's connection is down it is not on NATS: another endpoint
// may claim the subject meanwhile, and nats.js subscribes the holder again
// when it is back, so that both would answer. So at every reconnection the
// holder asserts its claim again (`Claim.reassert`), and the one that
// yields is told to give the subject up.
import type { Claim, LostTo } from "./_claim.ts";
import type { NatsLink } from "./_link.ts";
import { flushWithin, isTimeout, type Status } from "./_nats.ts";

/** Asserts a held claim again after each reconnection of its connection. */
export class ClaimKeeper {
  readonly #link: NatsLink;
  readonly #claim: Claim;
  readonly #subject: string;
  readonly #timeout: number;
  readonly #giveUp: (reason: Error) => number;
  readonly #unwatch: () => void;
  /** Aborts the assertion running now (the connection moved again, or closing). */
  #abort: AbortController | null = null;
  /** The assertions, one after the other: each unsubscribes before the next. */
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Aborted by close: its wait for the server must not hold the close. */
  #closing = new AbortController();

  /**
   * Starts watching `link` for `claim`, held on `subject` since the link's
   * `epoch` (when the endpoint subscribed).
   *
   * @param options `timeout`: how long (ms) the server may take to answer.
   * @param giveUp Stops answering on the subject and fails the sessions
   *   accepted there with the reason; returns how many. Called at most
   *   once; then the user is told (logged, and a status event `error`).
   */
  constructor(
    link: NatsLink,
    claim: Claim,
    subject: string,
    options: { timeout: number; epoch: number },
    giveUp: (reason: Error) => number,
  ) {
    this.#link = link;
    this.#claim = claim;
    this.#subject = subject;
    this.#timeout = options.timeout;
    this.#giveUp = giveUp;
    this.#unwatch = link.onStatus((status) => this.#status(status));
    if (link.epoch !== options.epoch) {
      // The connection moved while the claim was made, unseen here.
      claim.away();
      if (link.connected) this.#assert();
    }
  }

  /** Stops watching; waits for an assertion that is running to end. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#unwatch();
    this.#abort?.abort();
    this.#closing.abort();
    await this.#running;
  }

  #status(status: Status): void {
    if (this.#stopped) return;
    if (status.type === "disconnect" || status.type === "reconnecting") {
      // What an assertion running now hears says nothing any more.
      this.#abort?.abort();
      this.#claim.away();
    } else if (status.type === "reconnect") {
      this.#assert();
    }
  }

  #assert(): void {
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    // Never rejects: close awaits it, and nobody else would see the error.
    this.#running = this.#running.then(() => this.#run(abort.signal)).catch(
      (error) => console.error("aiomas: asserting a NATS claim failed:", error),
    );
  }

  async #run(signal: AbortSignal): Promise<void> {
    const nc = this.#link.nc;
    while (!signal.aborted && !this.#stopped) {
      let lostTo: LostTo | null;
      try {
        lostTo = await this.#claim.reassert(
          nc,
          this.#subject,
          this.#timeout,
          signal,
        );
      } catch (error) {
        // A server that is slow to answer: ask again. A connection down
        // again is asserted at its reconnection; a closed one never.
        if (isTimeout(error) && this.#link.connected && !nc.isClosed()) {
          continue;
        }
        return;
      }
      if (lostTo !== null && !this.#stopped) await this.#lose(lostTo);
      return;
    }
  }

  async #lose(lostTo: LostTo): Promise<void> {
    this.#stopped = true;
    this.#unwatch();
    const reason = new Error(lostReason(this.#subject, lostTo));
    const failed = this.#giveUp(reason);
    // Told once the server has dropped the subscription: from then on
    // every hello goes to the holder.
    await flushWithin(this.#link.nc, this.#timeout, this.#closing.signal)
      .catch(() => {});
    const error = new Error(
      `${reason.message}. This endpoint stopped accepting sessions there${
        failed > 0 ? ` and failed the ${failed} it had accepted` : ""
      }`,
      { cause: reason },
    );
    // The container above has no channel for it: a log is what it shows.
    console.error(`aiomas: ${error.message}`);
    this.#link.report({ type: "error", error, subject: this.#subject });
  }
}

function lostReason(subject: string, lostTo: LostTo): string {
  const holder = lostTo.name === "" ? "another endpoint" : lostTo.name;
  return `Lost NATS subject "${subject}": another holder (${holder}) kept it: ${
    lostTo.stayed
      ? "it held the subject on NATS while this endpoint's connection was down, and a holder that stayed keeps it"
      : "both were away from NATS and asserted their claims again at once, and the lower claim id keeps it"
  }`;
}
