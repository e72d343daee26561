import type { Caller } from "./_proxy.ts";
import type { DynamicRemote } from "./remote.ts";
import type { RpcTelemetryOptions } from "./telemetry_options.ts";

/** Options of `RpcClient` (rpc_client.ts). */
export interface RpcClientOptions {
  /**
   * What this end serves to the peer on the same connection: an object
   * with `@expose` members, a `Service` or a `ServiceDict`. Without one,
   * every call from the peer fails with a `LookupError`.
   */
  service?: object;
  /**
   * Called once when the connection is lost (closed by the peer or by an
   * error), not after `close()`; the argument is the error, if any. What
   * it throws is logged with `console.error`.
   */
  onConnectionReset?: (error: unknown) => void;
  /**
   * Makes the proxy for a service reference received from the peer; the
   * agent layer uses it to name agent proxies.
   *
   * @default {a proxy printed as `RpcProxy('<path>')`}
   */
  proxyFor?: (path: string, caller: Caller) => DynamicRemote;
  /**
   * The timeout, in milliseconds, of every call made through this client:
   * its proxies (`remote`, the proxies of references received from the
   * peer) and {@linkcode RpcClient.call}. A call that takes longer rejects
   * with a `TimeoutError` `DOMException` and its late reply is dropped. A
   * call's own `timeout` (see `withOptions`) overrides it.
   *
   * @default {undefined} (no timeout: a call waits until the peer answers or the connection closes)
   */
  callTimeout?: number;
  /**
   * How many of the peer's calls may be received and not yet answered on
   * this connection (running or waiting, with synchronous or async
   * handlers); at the limit the channel stops reading, so a flooding peer
   * is slowed down by TCP instead of filling memory. It is the channel's
   * own limit (`ChannelOptions.maxConcurrentRequests`): given here, it is
   * set on the channel; `rpc.openConnection` and `rpc.startServer` pass it
   * to the channels they make.
   *
   * @default {the channel's: 1024 unless set in its ChannelOptions}
   */
  maxConcurrentRequests?: number;
  /**
   * OpenTelemetry spans and metrics of this connection's calls (see
   * {@linkcode RpcTelemetryOptions}); `false` records nothing even when a
   * provider is registered.
   *
   * @default {the global providers of `npm:@opentelemetry/api`: nothing is recorded unless one is registered}
   */
  telemetry?: RpcTelemetryOptions | false;
}
