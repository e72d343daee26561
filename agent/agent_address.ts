import { parseAddress } from "../channel/address.ts";
import { isNatsName } from "./_nats_presence.ts";

/** A parsed agent address. */
export type AgentAddress =
  & {
    /**
     * The container's address with a trailing slash, in the form the
     * container itself reports (see {@linkcode containerAddress}), e.g.
     * `"tcp://127.0.0.1:5555/"`.
     */
    readonly container: string;
    /** The agent id, e.g. `"0"`. */
    readonly aid: string;
  }
  & (
    | {
      readonly scheme: "tcp";
      readonly hostname: string;
      readonly port: number;
    }
    | { readonly scheme: "ipc"; readonly path: string }
    | { readonly scheme: "local"; readonly name: string }
    | { readonly scheme: "worker"; readonly name: string }
    | { readonly scheme: "nats"; readonly name: string }
  );

const AGENT_FORMS = 'accepted forms: "tcp://host:port/aid", ' +
  '"tcp://[::1]:port/aid", "ipc://[/path/to.sock]/aid", "local://name/aid", ' +
  '"worker://name/aid", "nats://name/aid"';

/**
 * Parses an agent address: `tcp://<host>:<port>/<aid>` (IPv6 hosts in
 * brackets, or without them as aiomas writes them; the host and port as
 * the channel layer's `parseAddress` takes them), `ipc://[<unix
 * path>]/<aid>` (the brackets may be left out) or
 * `local://<name>/<aid>` for containers in this process, and this
 * library's extensions `worker://<name>/<aid>` for containers in Workers
 * (see `startContainerWorker`) and `nats://<name>/<aid>` for containers on
 * NATS (names are tokens of letters, digits, `_` and `-`, separated by
 * dots, e.g. `site-1.sim-3`). `container` is
 * normalized (IPv6 hosts and socket paths in brackets, the port without
 * leading zeros), so that every spelling of one container's address
 * shares one connection and an address of the container itself is
 * recognized as local.
 *
 * @param url The address.
 * @returns Its parts.
 * @throws {TypeError} Saying what is wrong with the address, and listing
 *   the accepted forms.
 *
 * @example
 * ```ts
 * import { parseAgentAddress } from "@aiomas/aiomas/agent";
 * import assert from "node:assert/strict";
 *
 * const addr = parseAgentAddress("tcp://127.0.0.1:5555/3");
 * assert.deepEqual(addr, {
 *   scheme: "tcp", hostname: "127.0.0.1", port: 5555, aid: "3",
 *   container: "tcp://127.0.0.1:5555/",
 * });
 * assert.throws(() => parseAgentAddress("udp://x:1/0"), TypeError);
 * ```
 */
export function parseAgentAddress(url: string): AgentAddress {
  const fail = (why: string): never => {
    throw new TypeError(
      `Invalid agent address ${JSON.stringify(url)}: ${why}; ${AGENT_FORMS}`,
    );
  };
  if (typeof url !== "string") fail("not a string");
  const schemeEnd = url.indexOf("://");
  if (schemeEnd < 0) fail('expected "<scheme>://…/<aid>"');
  const scheme = url.slice(0, schemeEnd);
  const rest = url.slice(schemeEnd + 3);
  const slash = rest.lastIndexOf("/");
  if (slash < 0) fail('expected "/<aid>" at the end');
  const location = rest.slice(0, slash);
  const aid = rest.slice(slash + 1);
  if (aid === "") fail("the agent id is empty");
  if (location === "") fail("the container location is empty");
  switch (scheme) {
    case "tcp": {
      const colon = location.lastIndexOf(":");
      if (colon < 0) fail('the port is missing (expected "<host>:<port>")');
      let hostname = location.slice(0, colon);
      const portText = location.slice(colon + 1);
      const bracketedHost = hostname.startsWith("[") && hostname.endsWith("]");
      if (bracketedHost) hostname = hostname.slice(1, -1);
      const port = Number(portText);
      if (hostname === "") fail("the host is empty");
      if (!/^\d+$/.test(portText) || port > 65535) {
        fail(`invalid port "${portText}"`);
      }
      // The host as the channel layer's address grammar takes it (aiomas
      // writes IPv6 hosts without brackets too).
      const bracketed = bracketedHost || hostname.includes(":");
      const input = `tcp://${
        bracketed ? `[${hostname}]` : hostname
      }:${portText}`;
      try {
        parseAddress(input);
      } catch (error) {
        const prefix = `Invalid address ${JSON.stringify(input)}: `;
        const message = (error as Error).message;
        fail(
          message.startsWith(prefix)
            ? message.slice(prefix.length).split("; accepted forms")[0]
            : message,
        );
      }
      return {
        scheme,
        hostname,
        port,
        aid,
        container: containerAddress({ hostname, port }),
      };
    }
    case "ipc": {
      const path = location.startsWith("[") && location.endsWith("]")
        ? location.slice(1, -1)
        : location;
      if (path === "") fail("the socket path is empty");
      return { scheme, path, aid, container: containerAddress({ path }) };
    }
    case "local":
      return {
        scheme,
        name: location,
        aid,
        container: containerAddress({ name: location }),
      };
    case "worker":
      return {
        scheme,
        name: location,
        aid,
        container: containerAddress({ worker: location }),
      };
    case "nats":
      if (!isNatsName(location)) {
        fail(
          `invalid NATS name "${location}" (tokens of letters, digits, "_" and "-", separated by ".")`,
        );
      }
      return {
        scheme,
        name: location,
        aid,
        container: containerAddress({ nats: location }),
      };
    default:
      return fail(
        `unknown scheme "${scheme}" (expected tcp, ipc, local, worker or nats)`,
      );
  }
}

/**
 * The base address of a container listening at `addr`.
 *
 * @param addr A TCP address, a Unix socket path, a local name, a worker
 *   name or a name on NATS.
 * @returns E.g. `"tcp://127.0.0.1:5555/"`, `"ipc://[/tmp/a.sock]/"`,
 *   `"local://name/"`, `"worker://name/"`, `"nats://name/"`.
 *
 * @example
 * ```ts
 * import { containerAddress } from "@aiomas/aiomas/agent";
 * import assert from "node:assert/strict";
 *
 * assert.equal(containerAddress({ hostname: "::1", port: 5555 }), "tcp://[::1]:5555/");
 * assert.equal(containerAddress({ nats: "sim-1" }), "nats://sim-1/");
 * ```
 */
export function containerAddress(
  addr:
    | { hostname: string; port: number }
    | { path: string }
    | { name: string }
    | { worker: string }
    | { nats: string },
): string {
  if ("path" in addr) return `ipc://[${addr.path}]/`;
  if ("nats" in addr) return `nats://${addr.nats}/`;
  if ("name" in addr) return `local://${addr.name}/`;
  if ("worker" in addr) return `worker://${addr.worker}/`;
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `tcp://${host}:${addr.port}/`;
}
