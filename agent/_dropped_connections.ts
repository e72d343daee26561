// The connections a container no longer shares after connects timed out on
// them (agent/_connections.ts): kept for their calls, within a bound.
import type { RpcClient } from "../rpc/rpc_client.ts";

/** The most connections kept per address once dropped. */
const MAX_DROPPED = 2;

/** A connection no longer shared, and the bytes it had received then. */
interface Dropped {
  readonly client: RpcClient;
  readonly received: number;
}

/**
 * Per address, the connections dropped from the shared ones after a
 * connect timed out on them and still open, each with the bytes it had
 * received then: their calls may still be answered (a busy peer).
 */
export class DroppedConnections {
  #byAddress = new Map<string, Dropped[]>();

  /**
   * Keeps `client`'s connection, no longer shared, for its calls: those
   * dropped before it that have received nothing since are closed (a
   * silent peer costs at most two connections), and of those that have (a
   * slow but live link), the oldest beyond {@linkcode MAX_DROPPED}.
   */
  drop(address: string, client: RpcClient): void {
    const kept = (this.#byAddress.get(address) ?? []).filter((earlier) => {
      const silent =
        earlier.client.channel.stats.bytesReceived === earlier.received;
      if (silent) earlier.client.close();
      return !silent;
    });
    while (kept.length >= MAX_DROPPED) kept.shift()!.client.close();
    kept.push({ client, received: client.channel.stats.bytesReceived });
    this.#byAddress.set(address, kept);
    const forget = () => {
      const left = this.#byAddress.get(address)?.filter((entry) =>
        entry.client !== client
      );
      if (left === undefined) return;
      if (left.length === 0) this.#byAddress.delete(address);
      else this.#byAddress.set(address, left);
    };
    client.closed.then(forget, forget);
  }
}
