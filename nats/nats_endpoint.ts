import { ConnectionClosedError } from "../errors.ts";
import {
  askSession,
  readHello,
  runOnSession,
  type SessionAnswer,
} from "./_session_hello.ts";
import { NatsLink } from "./_link.ts";
import {
  flushWithin,
  guarded,
  isPlainSubject,
  type Msg,
  newInbox,
  refuseHello,
  type Subscription,
  useNats,
} from "./_nats.ts";
import type { NatsClient, NatsStatus } from "./nats_client.ts";
import { NatsTransport } from "./nats_transport.ts";
import { closeMessage } from "./_session_wire.ts";
import {
  checkRequestTimeout,
  DEFAULT_WINDOW,
  peerWindow,
} from "./_session_options.ts";
import { Claim } from "./_claim.ts";
import { ClaimKeeper } from "./_name.ts";
import {
  checkEndpointOptions,
  type NatsEndpointOptions,
  type NatsOpenOptions,
} from "./_endpoint_options.ts";

export type {
  NatsEndpointOptions,
  NatsHello,
  NatsOpenOptions,
} from "./_endpoint_options.ts";

/**
 * One side of NATS sessions: accepts them on a subject (optionally in a
 * queue group, or claimed exclusively), and opens them to other subjects.
 * Each session is a {@linkcode NatsTransport}, for a `Channel`.
 *
 * Opening a session is a NATS request on the peer's subject carrying a
 * new subject of the opener's; the peer answers with a new subject of its
 * own, and the two sides publish to each other's. With nobody on the
 * subject, `open` fails at once (NATS no-responders).
 *
 * @example
 * ```ts ignore
 * import { NatsEndpoint } from "@aiomas/aiomas/nats";
 * import { Channel } from "@aiomas/aiomas";
 *
 * await using server = await NatsEndpoint.create({
 *   nats: { servers: "127.0.0.1:4222" },
 *   subject: "echo",
 *   onSession: async (transport) => {
 *     for await (const request of new Channel(transport)) await request.reply(request.content);
 *   },
 * });
 * await using client = await NatsEndpoint.create({ nats: { servers: "127.0.0.1:4222" } });
 * await using channel = new Channel(await client.open("echo"));
 * console.log(await channel.send("ohai"));
 * ```
 */
export class NatsEndpoint implements AsyncDisposable {
  /** The subject sessions are accepted on, if any. */
  readonly subject: string | undefined;
  #link: NatsLink;
  #options: NatsEndpointOptions;
  #sub: Subscription | null = null;
  #claim: Claim | null = null;
  /** Aborted when the endpoint closes: ends the opens under way. */
  #closingSignal = new AbortController();
  #keeper: ClaimKeeper | null = null;
  /** Settles once the keeper stopped (close waits for it). */
  #keeperClosed: Promise<void> | undefined;
  /** The keeper that lost the subject; it still reports, close stops it. */
  #lostKeeper: ClaimKeeper | null = null;
  #sessions = new Set<NatsTransport>();
  /** The sessions accepted on `subject` (a part of `#sessions`). */
  #accepted = new Set<NatsTransport>();
  #closing: Promise<void> | null = null;

  private constructor(link: NatsLink, options: NatsEndpointOptions) {
    this.#link = link;
    this.#options = options;
    this.subject = options.subject;
  }

  /**
   * Connects (or uses `options.nats`) and, with `subject`, starts accepting.
   *
   * @param options See {@linkcode NatsEndpointOptions}.
   * @returns The endpoint.
   * @throws {TypeError} For an invalid subject or queue group, or an
   *   exclusive subject that a live endpoint claims.
   * @throws {RangeError} For a `heartbeat`, `timeout` or `window` out of
   *   range.
   * @throws {DOMException} `TimeoutError` if the NATS server does not
   *   answer within `timeout` (default 1000 ms here).
   * @throws {Error} If NATS cannot be reached (nats.js's error).
   */
  static async create(options: NatsEndpointOptions): Promise<NatsEndpoint> {
    checkEndpointOptions(options);
    const subject = options.subject;
    const timeout = options.timeout ?? 1000;
    const link = new NatsLink(await useNats(options.nats));
    const endpoint = new NatsEndpoint(link, options);
    try {
      if (subject !== undefined) {
        const claim = options.exclusive ? new Claim(options.name ?? "") : null;
        await claim?.ask(link.nc, subject, timeout);
        endpoint.#claim = claim;
        // A reconnection from now on is to be seen by the keeper.
        const epoch = link.epoch;
        let refused: Error | null = null;
        endpoint.#sub = link.nc.subscribe(subject, {
          queue: options.queue,
          callback: guarded(
            (error, msg) => {
              if (error === null) endpoint.#hello(msg);
              else refused ??= error;
            },
            // The hello is answered; other sessions are not concerned.
            (thrown, msg) => refuseHello(msg, thrown),
          ),
        });
        // The subscription is in place at the server before create
        // returns; a refusal (permissions) comes before the flush's answer.
        const flushed = performance.now();
        await flushWithin(link.nc, timeout);
        if (refused !== null) {
          throw new Error(
            `Cannot accept sessions on "${subject}": ${
              (refused as Error).message
            }`,
            { cause: refused },
          );
        }
        if (claim !== null) {
          await claim.confirm(
            link.nc,
            subject,
            performance.now() - flushed,
            timeout,
          );
          endpoint.#keeper = new ClaimKeeper(
            link,
            claim,
            subject,
            { timeout, epoch },
            (reason) => endpoint.#lose(reason),
          );
        }
      }
    } catch (error) {
      await endpoint.close();
      throw error;
    }
    return endpoint;
  }

  /** The NATS connection. */
  get connection(): NatsClient {
    return this.#link.nc as unknown as NatsClient;
  }

  /**
   * The connection's status events (disconnect, reconnect, cluster
   * updates, errors), as nats.js reports them. The iteration ends when the
   * connection closes. (A lost claim is reported to
   * {@linkcode NatsEndpoint.onStatus} listeners only.)
   *
   * @returns An async iterable of events.
   */
  status(): AsyncIterable<NatsStatus> {
    return this.#link.nc.status() as AsyncIterable<NatsStatus>;
  }

  /**
   * Calls `listener` with every status event of the connection, and with
   * `{ type: "error", error, subject }` when an `exclusive` endpoint loses
   * its subject: its connection came back and another holder kept the
   * subject (see `docs/nats.md`); it then stops accepting there and fails
   * the sessions it accepted (it also logs this with `console.error`).
   *
   * @param listener Called with each event.
   * @returns A function that stops the calls.
   */
  onStatus(listener: (status: NatsStatus) => void): () => void {
    return this.#link.onStatus(listener);
  }

  /**
   * Opens a session with the endpoint on `subject` (one member of its
   * queue group, if it has one).
   *
   * @param subject The peer's subject.
   * @param options `timeout` in milliseconds.
   * @returns The session.
   * @throws {ConnectionClosedError} If nobody listens on the subject (at
   *   once), the peer refused or did not answer in time, or the endpoint
   *   is closed.
   * @throws {RangeError} For a `timeout` below 1 ms or not a number.
   */
  async open(
    subject: string,
    options: NatsOpenOptions = {},
  ): Promise<NatsTransport> {
    if (this.#closing !== null) {
      throw new ConnectionClosedError("Cannot open a NATS session: closed");
    }
    if (!isPlainSubject(subject)) {
      throw new TypeError(`Invalid NATS subject ${JSON.stringify(subject)}`);
    }
    checkRequestTimeout("timeout", options.timeout);
    const timeout = options.timeout ?? 5000;
    const nc = this.#link.nc;
    const cannot = (why: string, cause?: unknown) =>
      new ConnectionClosedError(
        `Cannot open a NATS session on "${subject}": ${why}`,
        cause === undefined ? undefined : { cause },
      );
    if (nc.isClosed()) throw cannot("the NATS connection is closed");
    let transport: NatsTransport;
    try {
      transport = this.#track(
        new NatsTransport(
          this.#link,
          newInbox(nc),
          options.peer ?? subject,
          this.#options,
          () => this.#sessions.delete(transport),
        ),
      );
    } catch (error) {
      // E.g. the connection closed meanwhile: subscribing throws.
      throw cannot((error as Error).message, error);
    }
    let answer: SessionAnswer;
    try {
      answer = await askSession(nc, {
        subject,
        hello: JSON.stringify({
          op: "open",
          from: this.#options.name ?? "",
          subject: transport.subject,
          window: this.#options.window ?? DEFAULT_WINDOW,
        }),
        timeout,
        cannot,
        signal: this.#closingSignal.signal,
        closed: "the endpoint was closed meanwhile",
      });
    } catch (error) {
      transport.close();
      throw error;
    }
    const to = answer.to;
    if (this.#closing !== null) {
      // Closed while the peer answered (which closed this side): tell the
      // peer's side, which would wait for pings otherwise.
      try {
        if (!nc.isClosed()) nc.publish(to, closeMessage(0, ""));
      } catch {
        // Closed meanwhile: the peer learns it from its pings.
      }
      throw cannot("the endpoint was closed meanwhile");
    }
    transport.start(to, peerWindow(answer.window));
    return transport;
  }

  /**
   * Stops accepting, fails the sessions still open, and closes the NATS
   * connection if the endpoint opened it. Idempotent.
   *
   * @returns A promise that settles when everything is released.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Opens that wait for an answer end now.
      this.#closingSignal.abort();
      this.stopAccepting();
      const keeping = this.#keeperClosed ?? this.#lostKeeper?.close();
      for (const session of [...this.#sessions]) session.close();
      // Bounded: a frozen server must not hold the close.
      if (!this.#link.nc.isClosed()) {
        await flushWithin(this.#link.nc, 1000).catch(() => {});
      }
      await keeping;
      await this.#link.close();
    })();
    return this.#closing;
  }

  /**
   * Stops accepting sessions (unsubscribes from `subject`: hellos go to
   * the other members of its queue group, or find no responders); the
   * sessions open go on. An `exclusive` endpoint no longer asserts its
   * claim when its connection comes back: another may take the subject.
   * Idempotent; `close` does it first.
   *
   * @example
   * ```ts ignore
   * // A graceful stop: no new sessions while the open ones finish.
   * endpoint.stopAccepting();
   * await Promise.all(openChannels.map((channel) => channel.close()));
   * await endpoint.close();
   * ```
   */
  stopAccepting(): void {
    // A subject it no longer serves is not asserted again either: another
    // endpoint may take it now.
    const keeper = this.#keeper;
    this.#keeper = null;
    if (keeper !== null) this.#keeperClosed = keeper.close();
    this.#unsubscribe();
  }

  #unsubscribe(): void {
    const sub = this.#sub;
    this.#sub = null;
    try {
      sub?.unsubscribe();
    } catch {
      // The connection is closed.
    }
  }

  /**
   * Closes the endpoint (for `await using`).
   *
   * @returns A promise that settles when everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #track(transport: NatsTransport, accepted = false): NatsTransport {
    this.#sessions.add(transport);
    if (accepted) this.#accepted.add(transport);
    return transport;
  }

  /**
   * Another holder kept the claimed subject (after a reconnection): stops
   * accepting there and fails the sessions accepted there with `reason`
   * (their peers reach the holder when they open a session again).
   *
   * @returns How many sessions it failed.
   */
  #lose(reason: Error): number {
    // The keeper calls this and reports once the server has dropped the
    // subscription: closing it now would cut that wait short (close does).
    this.#lostKeeper = this.#keeper;
    this.#keeper = null;
    this.#unsubscribe();
    const accepted = [...this.#accepted];
    for (const session of accepted) session.close(reason);
    return accepted.length;
  }

  #hello(msg: Msg): void {
    if (!msg.reply || this.#closing !== null) return;
    const hello = readHello(msg);
    if (hello?.op === "claim") {
      this.#claim?.answer(msg, hello.claim);
      return;
    }
    if (hello === undefined) {
      msg.respond(JSON.stringify({ error: "not a session hello" }));
      return;
    }
    const { to, from, window } = hello;
    const onSession = this.#options.onSession;
    const max = this.#options.maxSessions ?? 1024;
    if (onSession === undefined || this.#accepted.size >= max) {
      msg.respond(
        JSON.stringify({
          error: onSession === undefined
            ? "this endpoint accepts no sessions"
            : `too many sessions (${max})`,
        }),
      );
      return;
    }
    const name = typeof from === "string" ? from.slice(0, 256) : "";
    const transport = new NatsTransport(
      this.#link,
      newInbox(this.#link.nc),
      name === "" ? `a peer on ${this.subject}` : name,
      this.#options,
      () => {
        this.#sessions.delete(transport);
        this.#accepted.delete(transport);
      },
    );
    this.#track(transport, true);
    transport.start(to, peerWindow(window));
    msg.respond(
      JSON.stringify({
        subject: transport.subject,
        window: this.#options.window ?? DEFAULT_WINDOW,
      }),
    );
    runOnSession(onSession, transport, { from: name });
  }
}
