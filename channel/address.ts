/**
 * Every form an address may be given in:
 *
 * - TCP: `"host:port"`, `"tcp://host:port"` (a trailing `/` is allowed, so
 *   that an aiomas container address such as `"tcp://127.0.0.1:5555/"`
 *   works), `"[::1]:5555"` or `"tcp://[::1]:5555"` for IPv6 literals,
 *   `{ hostname, port }` or `["host", port]`;
 * - Unix sockets: `"unix:/path/to.sock"`, `"unix:relative.sock"`,
 *   `"unix:///path/to.sock"` or `{ path }`.
 *
 * A port is an integer from 0 to 65535 (0 picks a free port when
 * listening). A string without a scheme must be `host:port`: a bare path
 * such as `"/tmp/x.sock"` is refused, so that a mistyped TCP address never
 * becomes a socket file.
 */
export type Address =
  | string
  | { hostname: string; port: number }
  | readonly [string, number]
  | { path: string };

/** A parsed address: what {@linkcode parseAddress} returns. */
export type ParsedAddress =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string };

const FORMS = 'accepted forms: "host:port", "tcp://host:port", "[::1]:port", ' +
  '"unix:/path/to.sock", { hostname, port }, ["host", port], { path }';

// Host names and IPv4 literals; IPv6 literals come in brackets.
const HOSTNAME = /^[A-Za-z0-9_.-]+$/;
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?$/;
const PORT = /^[0-9]{1,5}$/;

/**
 * Parses an address given in any of the forms of {@linkcode Address}.
 *
 * A parsed address is accepted too, so parsing twice is harmless; an
 * object's other properties are ignored (a `Deno.NetAddr` works).
 *
 * @param address The address.
 * @returns The transport with its host name and port, or its socket path.
 *   IPv6 host names are returned without brackets.
 * @throws {TypeError} If it is none of the accepted forms; the message
 *   quotes the input and lists the forms.
 *
 * @example
 * ```ts
 * import { parseAddress } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseAddress("127.0.0.1:5555"), {
 *   transport: "tcp",
 *   hostname: "127.0.0.1",
 *   port: 5555,
 * });
 * assert.deepEqual(parseAddress("tcp://[::1]:5555"), {
 *   transport: "tcp",
 *   hostname: "::1",
 *   port: 5555,
 * });
 * assert.deepEqual(parseAddress("unix:/tmp/agents.sock"), {
 *   transport: "unix",
 *   path: "/tmp/agents.sock",
 * });
 * assert.throws(() => parseAddress("/tmp/agents.sock"), TypeError);
 * ```
 */
export function parseAddress(address: Address): ParsedAddress {
  if (typeof address === "string") return parseString(address);
  if (Array.isArray(address)) {
    if (address.length !== 2) {
      invalid(address, "a tuple must be [host, port]");
    }
    return tcp(address, address[0], address[1]);
  }
  if (typeof address !== "object" || address === null) {
    invalid(address, `a ${address === null ? "null" : typeof address}`);
  }
  const object = address as Record<string, unknown>;
  const transport = object.transport;
  if ("path" in object) {
    if ("hostname" in object || "port" in object) {
      invalid(address, "give either a path or a hostname and port");
    }
    if (transport !== undefined && transport !== "unix") {
      invalid(address, `transport ${JSON.stringify(transport)} with a path`);
    }
    if (typeof object.path !== "string" || object.path === "") {
      invalid(address, "the path must be a non-empty string");
    }
    return { transport: "unix", path: object.path };
  }
  if (transport !== undefined && transport !== "tcp") {
    invalid(address, `transport ${JSON.stringify(transport)} is not supported`);
  }
  if (!("hostname" in object)) invalid(address, "the hostname is missing");
  return tcp(address, object.hostname, object.port);
}

/**
 * Formats a parsed address so that {@linkcode parseAddress} reads it back.
 *
 * @param address The parsed address.
 * @returns `"127.0.0.1:5555"`, `"[::1]:5555"` or `"unix:/tmp/x.sock"`.
 *
 * @example
 * ```ts
 * import { formatAddress, parseAddress } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatAddress(parseAddress(["::1", 5555])), "[::1]:5555");
 * assert.equal(formatAddress(parseAddress({ path: "/tmp/x.sock" })), "unix:/tmp/x.sock");
 * ```
 */
export function formatAddress(address: ParsedAddress): string {
  if (address.transport === "unix") {
    // "unix://…" is the URL form; keep a path that starts with "//" intact.
    return `${
      address.path.startsWith("//") ? "unix://" : "unix:"
    }${address.path}`;
  }
  const host = address.hostname.includes(":")
    ? `[${address.hostname}]`
    : address.hostname;
  return `${host}:${address.port}`;
}

function parseString(input: string): ParsedAddress {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(input)?.[1].toLowerCase();
  if (scheme === "unix") {
    let path = input.slice("unix:".length);
    if (path.startsWith("//")) {
      // URL form: "unix:///abs/path"; "unix://host/…" names no file.
      path = path.slice(2);
      if (!path.startsWith("/")) {
        invalid(input, 'write "unix:///absolute/path" or "unix:relative/path"');
      }
    }
    if (path === "") invalid(input, "the socket path is empty");
    return { transport: "unix", path };
  }
  let rest = input;
  if (scheme === "tcp") {
    rest = input.slice("tcp:".length);
    if (!rest.startsWith("//")) invalid(input, 'write "tcp://host:port"');
    rest = rest.slice(2);
    if (rest.endsWith("/")) rest = rest.slice(0, -1);
  } else if (
    scheme !== undefined && input.startsWith("//", scheme.length + 1)
  ) {
    invalid(input, `the scheme "${scheme}:" is not supported`);
  } else if (input.includes("/") || input.endsWith(".sock")) {
    // A bare path is refused: it would make a mistyped TCP address a file.
    invalid(
      input,
      `a Unix socket is written "unix:${input}" or { path: ${quote(input)} }`,
    );
  }
  const colon = rest.lastIndexOf(":");
  if (colon < 0) invalid(input, "the port is missing");
  let host = rest.slice(0, colon);
  const port = rest.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
    if (!IPV6.test(host)) invalid(input, `"${host}" is not an IPv6 address`);
  } else if (host.includes(":")) {
    invalid(input, "an IPv6 address must be in brackets, as in [::1]:5555");
  } else if (!HOSTNAME.test(host)) {
    invalid(
      input,
      host === "" ? "the host is missing" : `"${host}" is not a host name`,
    );
  }
  if (!PORT.test(port)) invalid(input, `the port "${port}" is not a number`);
  return tcp(input, host, Number(port));
}

function tcp(input: unknown, hostname: unknown, port: unknown): ParsedAddress {
  if (typeof hostname !== "string" || hostname === "") {
    invalid(input, "the hostname must be a non-empty string");
  }
  if (
    typeof port !== "number" || !Number.isInteger(port) || port < 0 ||
    port > 65535
  ) {
    invalid(input, "the port must be an integer from 0 to 65535");
  }
  // Deno wants IPv6 literals without brackets.
  const host = hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;
  return { transport: "tcp", hostname: host, port };
}

function invalid(input: unknown, why: string): never {
  throw new TypeError(`Invalid address ${quote(input)}: ${why}; ${FORMS}`);
}

function quote(input: unknown): string {
  try {
    return JSON.stringify(input) ?? String(input);
  } catch {
    return String(input);
  }
}
