// Opening a channel to another container, by the scheme of its address:
// the one place of the agent layer that connects.
import { Channel } from "../channel/channel.ts";
import { connect, delay } from "../channel/_connect.ts";
import { formatAddress, type ParsedAddress } from "../channel/address.ts";
import { createMemoryPair } from "../channel/memory_pair.ts";
import { ConnectionClosedError } from "../errors.ts";
import type { ConnectionsOptions } from "./_connections.ts";
import { createCodec } from "../channel/_codec.ts";
import type { AgentAddress } from "./agent_address.ts";

/** How one dial goes. */
export interface DialOptions {
  /** Retry refused attempts (TCP, Unix, NATS, and local containers not created yet). */
  retry: boolean;
  /** Stops it (every connect waiting for it gave up, or shutdown). */
  signal: AbortSignal;
  /** Told of each failed attempt that will be retried. */
  onRetry: (error: unknown) => void;
}

/**
 * A channel to the container of `target`, with the container's codec and
 * serializers.
 *
 * @throws {ConnectionClosedError} For a worker or local container this
 *   one cannot reach, or NATS when this container is not on it.
 * @throws {TypeError} For TCP port 0.
 * @throws The connect error, naming the address.
 */
export async function dialChannel(
  target: AgentAddress,
  options: ConnectionsOptions,
  dial: DialOptions,
): Promise<Channel> {
  const codec = () =>
    createCodec(options.codec, options.serializers, options.maxFrameSize);
  const { maxFrameSize } = options;
  if (target.scheme === "worker") {
    throw new ConnectionClosedError(
      `No link to ${target.container}: a worker container is reached from the container that started it, its siblings and itself`,
    );
  }
  if (target.scheme === "nats") {
    if (options.nats === undefined) {
      throw new ConnectionClosedError(
        `Cannot connect to ${target.container}: this container is not on NATS (create it with options.nats)`,
      );
    }
    const transport = await options.nats.dial(
      target.container,
      dial.retry,
      AbortSignal.any([dial.signal, options.closing]),
      dial.onRetry,
    );
    return new Channel(transport, {
      codec: codec(),
      peer: target.container,
      maxFrameSize,
    });
  }
  if (target.scheme === "local") {
    // Retried as a refused TCP connection is: the container may be about
    // to be created (in this process, by code that runs meanwhile).
    const signal = AbortSignal.any([dial.signal, options.closing]);
    for (let wait = 500;; wait = Math.min(wait * 1.5, 30_000)) {
      const [mine, theirs] = createMemoryPair();
      if (options.acceptLocal(target.name, theirs)) {
        return new Channel(mine, {
          codec: codec(),
          peer: target.container,
          maxFrameSize,
        });
      }
      const refused = new ConnectionClosedError(
        `No container at ${target.container} in this process`,
      );
      if (!dial.retry) throw refused;
      dial.onRetry(refused);
      signal.throwIfAborted();
      await delay(wait, signal);
    }
  }
  if (target.scheme === "tcp" && target.port === 0) {
    // Port 0 means "any port" to a listener: no container is reached there.
    throw new TypeError(
      `Cannot connect to ${target.container}: port 0 is no container's port (a container started on port 0 reports the port it got in its addr)`,
    );
  }
  const parsed: ParsedAddress = target.scheme === "tcp"
    ? { transport: "tcp", hostname: target.hostname, port: target.port }
    : { transport: "unix", path: target.path };
  // Made first, as openConnection does: a codec that throws opens nothing.
  const made = codec();
  const transport = await connect(parsed, {
    tls: options.tls,
    retry: dial.retry,
    onRetry: dial.onRetry,
    // Shutting down stops retrying, or shutdown would wait for it.
    signal: AbortSignal.any([dial.signal, options.closing]),
  });
  return new Channel(transport, {
    codec: made,
    peer: formatAddress(parsed),
    maxFrameSize,
  });
}
