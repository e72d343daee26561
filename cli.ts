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
 * Listening on a Unix socket (`--addr /path/to.sock`) needs `--allow-write`
 * too; spawning agents from remote modules on hosts other than Deno's
 * defaults (jsr.io, deno.land, esm.sh, …) needs `--allow-import`.
 *
 * When ready it prints one JSON line, e.g.
 * `{"addr":"tcp://127.0.0.1:41234/","manager":"tcp://127.0.0.1:41234/0"}`.
 * It stops on the manager's `stop()`, SIGINT or SIGTERM, after a clean
 * shutdown.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Container } from "./agent/container.ts";
import { ExternalClock } from "./agent/external_clock.ts";
import { Manager } from "./agent/manager.ts";
import type { Address } from "./channel/_connect.ts";
import { CODECS } from "./agent/_codec_names.ts";

const USAGE =
  `Usage: cli.ts [--addr HOST:PORT | --addr UNIX_PATH] [--codec json|msgpack|msgpackblosc]
              [--clock realtime|external] [--start ISO_DATE] [--init-time=SECONDS]
              [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--base URL]`;

/**
 * Runs a managed container until it is stopped.
 *
 * @param args The command-line arguments.
 * @returns A promise that settles after the container has shut down.
 * @throws {TypeError} For invalid arguments (with the usage text).
 *
 * @example
 * ```ts ignore
 * import { main } from "@aiomas/aiomas/cli";
 * await main(["--addr", "127.0.0.1:0", "--codec", "msgpack"]);
 * ```
 */
export async function main(args: string[]): Promise<void> {
  const values = parseOptions(args);
  const codec = Object.hasOwn(CODECS, values.codec)
    ? CODECS[values.codec]
    : undefined;
  if (codec === undefined) {
    throw new TypeError(`Unknown codec "${values.codec}"\n${USAGE}`);
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
  const container = await Container.create(parseListenAddress(values.addr), {
    codec,
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
  const stopped = Promise.withResolvers<void>();
  const manager = new Manager(container, {
    base: values.base,
    onStop: stopped.resolve,
  });
  const onSignal = () => container.shutdown().then(stopped.resolve);
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  console.log(JSON.stringify({ addr: container.addr, manager: manager.addr }));
  try {
    await stopped.promise;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
}

/** The parsed command line. */
interface CliOptions {
  addr: string;
  codec: string;
  clock: string;
  start?: string;
  "init-time"?: string;
  "tls-cert"?: string;
  "tls-key"?: string;
  "tls-ca"?: string;
  base?: string;
}

/** The options, or a TypeError with the usage text (unknown options, stray arguments). */
function parseOptions(args: string[]): CliOptions {
  try {
    return parseArgs({
      args,
      options: {
        addr: { type: "string", default: "127.0.0.1:0" },
        codec: { type: "string", default: "json" },
        clock: { type: "string", default: "realtime" },
        start: { type: "string" },
        "init-time": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-ca": { type: "string" },
        base: { type: "string" },
      },
      strict: true,
    }).values;
  } catch (error) {
    throw new TypeError(
      `${error instanceof Error ? error.message : error}\n${USAGE}`,
    );
  }
}

/** `host:port` (IPv6 as `[::1]:port`) or a Unix socket path (anything with a `/`). */
function parseListenAddress(text: string): Address {
  if (text.includes("/")) return text;
  const colon = text.lastIndexOf(":");
  const hostname = text.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const digits = text.slice(colon + 1);
  // Digits only: Number() would take "", " 1", "0x10" and "1e3" too.
  const port = /^\d{1,5}$/.test(digits) ? Number(digits) : NaN;
  if (colon <= 0 || hostname === "" || !(port <= 65535)) {
    throw new TypeError(`Invalid --addr "${text}"\n${USAGE}`);
  }
  return { hostname, port };
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    Deno.exit(2);
  }
}
