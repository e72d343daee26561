/**
 * Starts a managed container from the command line: the counterpart of
 * aiomas's `subproc` entry point. Its agent `"0"` is a {@linkcode Manager}
 * that spawns agents, sets the clock and stops the container.
 *
 * ```sh
 * deno run --allow-net --allow-read cli.ts --addr 127.0.0.1:0 --codec msgpack \
 *   --clock external --start 2016-01-01T00:00:00+00:00
 * ```
 *
 * `--help` prints every option. `--addr` takes the address forms of the
 * channel layer: `host:port`, `tcp://host:port`, `[::1]:port`, or
 * `unix:/path/to.sock` for a Unix socket (which needs `--allow-write`
 * too). The manager spawns agents only from modules under the
 * `--allow-spawn` prefixes (by default `file:` modules under the working
 * directory); spawning from remote modules on hosts other than Deno's
 * defaults (jsr.io, deno.land, esm.sh, …) also needs `--allow-import`.
 * Every peer that can reach the container can call its manager: keep it
 * behind mutual TLS or on a private address.
 *
 * When ready it prints one JSON line, e.g.
 * `{"addr":"tcp://127.0.0.1:41234/","manager":"tcp://127.0.0.1:41234/0"}`
 * (with `--serializers`, also the class names of the serializers, as
 * `"serializers":["Point"]`). It stops on the manager's `stop()`, SIGINT
 * or SIGTERM, after a clean shutdown.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { Container } from "./agent/container.ts";
import { ExternalClock } from "./agent/external_clock.ts";
import { Manager } from "./agent/manager.ts";
import { type Address, parseAddress } from "./channel/address.ts";
import { CODECS } from "./agent/_codec_names.ts";
import { baseUrl } from "./agent/_base_url.ts";
import { loadSerializers, serializerNames } from "./agent/_load_serializers.ts";
import type { SerializerSpec } from "./codecs/serializer_registry.ts";

const USAGE = `Usage: cli.ts [options]

Starts a managed container (its agent "0" is a Manager) and prints one JSON
line when it is ready: {"addr": "<container address>", "manager": "<address>"}.

Options:
  --addr ADDRESS         where to listen: HOST:PORT, tcp://HOST:PORT, [::1]:PORT
                         or unix:/path/to.sock (default 127.0.0.1:0)
  --codec NAME           json, msgpack or msgpackblosc (default json)
  --max-frame-size BYTES the largest message sent or accepted (default
                         16777216); raise it on both sides together
  --serializers SPEC     MODULE#EXPORT: a module exporting an array of
                         [type, toWire, fromWire], resolved like spawn specs
  --allow-spawn PREFIX   a module URL prefix the manager may spawn agents from
                         (repeatable; default: file: modules under the
                         working directory)
  --base URL|DIR         where relative spawn and serializers specs are
                         resolved from (default: the working directory)
  --clock NAME           realtime or external (default realtime)
  --start ISO_DATE       the external clock's start date (with --clock external)
  --init-time=SECONDS    the external clock's initial time (with --clock
                         external; default 0; write it with "=" when negative)
  --tls-cert FILE        PEM certificate chain: serve (and connect) with TLS
  --tls-key FILE         PEM private key of --tls-cert
  --tls-ca FILE          PEM CA certificates: mutual TLS, as in aiomas
  --exit-with-stdin      shut down when stdin ends: the parent process that
                         piped it has gone (startContainerProcess passes
                         it); while starting, exit at once
  -h, --help             print this help and exit`;

/**
 * Runs a managed container until it is stopped; with `--help`, prints
 * the usage and returns.
 *
 * @param args The command-line arguments.
 * @returns A promise that settles after the container has shut down.
 * @throws {TypeError} For invalid arguments (with the usage text), or a
 *   `--serializers` module that exports no serializers.
 *
 * With `--exit-with-stdin`, the end of stdin shuts the container down, and
 * while it still starts ends the process (`Deno.exit(1)`); if starting
 * fails, stdin is no longer watched.
 *
 * @example
 * ```ts ignore
 * import { main } from "@aiomas/aiomas/cli";
 * await main(["--addr", "127.0.0.1:0", "--codec", "msgpack"]);
 * ```
 */
export async function main(args: string[]): Promise<void> {
  const values = parseOptions(args);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  let addr: Address;
  try {
    addr = parseAddress(values.addr);
  } catch (error) {
    throw new TypeError(
      `${
        (error as Error).message.replace(/^Invalid address /, "Invalid --addr ")
      }\n${USAGE}`,
    );
  }
  const codec = Object.hasOwn(CODECS, values.codec)
    ? CODECS[values.codec]
    : undefined;
  if (codec === undefined) {
    throw new TypeError(`Unknown codec "${values.codec}"\n${USAGE}`);
  }
  const maxFrameSize = values["max-frame-size"] === undefined
    ? undefined
    : Number(values["max-frame-size"]);
  if (
    maxFrameSize !== undefined &&
    !(Number.isInteger(maxFrameSize) && maxFrameSize >= 1)
  ) {
    throw new TypeError(
      `Invalid --max-frame-size "${values["max-frame-size"]}"\n${USAGE}`,
    );
  }
  if (values.clock !== "realtime" && values.clock !== "external") {
    throw new TypeError(`Unknown clock "${values.clock}"\n${USAGE}`);
  }
  // aiomas's masters start external clocks at -1 so that set_time(0) works.
  const initTime = Number(values["init-time"] ?? 0);
  if (!Number.isFinite(initTime)) {
    throw new TypeError(
      `Invalid --init-time "${values["init-time"]}"\n${USAGE}`,
    );
  }
  if (values.clock === "external" && values.start === undefined) {
    throw new TypeError(`--clock external needs --start <ISO date>\n${USAGE}`);
  }
  if (
    values.clock !== "external" &&
    (values.start !== undefined || values["init-time"] !== undefined)
  ) {
    throw new TypeError(
      `--start and --init-time set the external clock: they need --clock external\n${USAGE}`,
    );
  }
  // Checked here, so that a bad date is a usage error like the others.
  if (
    values.start !== undefined && Number.isNaN(new Date(values.start).getTime())
  ) {
    throw new TypeError(`Invalid --start date "${values.start}"\n${USAGE}`);
  }
  if (
    (values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)
  ) {
    throw new TypeError(`--tls-cert and --tls-key go together\n${USAGE}`);
  }
  if (values["tls-ca"] !== undefined && values["tls-cert"] === undefined) {
    throw new TypeError(`--tls-ca needs --tls-cert and --tls-key\n${USAGE}`);
  }
  // A parent killed at once (SIGKILL) cannot stop its child: the end of
  // the pipe it held open can. Watched from the start: a parent that dies
  // while this starts (its serializers module hanging, say) ends it too,
  // at once, as there is nothing to shut down yet.
  const stdin = values["exit-with-stdin"]
    ? Deno.stdin.readable.getReader()
    : undefined;
  stdin?.closed.catch(() => {});
  let onStdinEnd: () => unknown = () => Deno.exit(1);
  const watching = stdin && (async () => {
    try {
      while (!(await stdin.read()).done) {
        // Its bytes mean nothing.
      }
    } catch {
      // A read error ends it as well.
    }
    onStdinEnd();
  })();
  const stopped = Promise.withResolvers<void>();
  let serializers: SerializerSpec[];
  let container: Container;
  let manager: Manager;
  try {
    // pathToFileURL escapes `#`, `%` and spaces and knows Windows drives.
    const base = values.base === undefined
      ? pathToFileURL(`${Deno.cwd()}/`).href
      : String(baseUrl(values.base));
    serializers = values.serializers === undefined
      ? []
      : await loadSerializers(values.serializers, base);
    container = await Container.create(addr, {
      codec,
      maxFrameSize,
      serializers,
      clock: values.clock === "external"
        ? new ExternalClock(values.start!, initTime)
        : undefined,
      tls: values["tls-cert"] === undefined ? undefined : {
        cert: await Deno.readTextFile(values["tls-cert"]),
        key: await Deno.readTextFile(values["tls-key"]!),
        caCerts: values["tls-ca"] === undefined
          ? undefined
          : [await Deno.readTextFile(values["tls-ca"])],
      },
    });
    try {
      manager = new Manager(container, {
        base,
        allowSpawn: values["allow-spawn"],
        onStop: stopped.resolve,
      });
    } catch (error) {
      await container.shutdown();
      throw error;
    }
  } catch (error) {
    // Not started: the watch ends with main, which must not then exit a
    // process that called it and caught this, and stdin is left to it
    // (released, not cancelled: its pending read just rejects).
    onStdinEnd = () => {};
    stdin?.releaseLock();
    await watching;
    throw error;
  }
  const onSignal = () => container.shutdown().then(stopped.resolve);
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  onStdinEnd = onSignal;
  console.log(JSON.stringify({
    addr: container.addr,
    manager: manager.addr,
    serializers: values.serializers === undefined
      ? undefined
      : serializerNames(serializers),
  }));
  try {
    await stopped.promise;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
    // A pending read would keep the process alive.
    await stdin?.cancel().catch(() => {});
    await watching;
  }
}

/** The parsed command line. */
interface CliOptions {
  addr: string;
  codec: string;
  "max-frame-size"?: string;
  clock: string;
  start?: string;
  "init-time"?: string;
  "tls-cert"?: string;
  "tls-key"?: string;
  "tls-ca"?: string;
  base?: string;
  serializers?: string;
  "allow-spawn"?: string[];
  "exit-with-stdin"?: boolean;
  help?: boolean;
}

/** The options, or a TypeError with the usage text (unknown options, stray arguments). */
function parseOptions(args: string[]): CliOptions {
  try {
    return parseArgs({
      args,
      options: {
        addr: { type: "string", default: "127.0.0.1:0" },
        codec: { type: "string", default: "json" },
        "max-frame-size": { type: "string" },
        clock: { type: "string", default: "realtime" },
        start: { type: "string" },
        "init-time": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-ca": { type: "string" },
        base: { type: "string" },
        serializers: { type: "string" },
        "allow-spawn": { type: "string", multiple: true },
        "exit-with-stdin": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (error) {
    throw new TypeError(
      `${error instanceof Error ? error.message : error}\n${USAGE}`,
    );
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    Deno.exit(2);
  }
  // Shut down: a handler still running (its timers, its awaits) must not
  // keep the process alive until its parent's stop deadline kills it.
  Deno.exit(0);
}
