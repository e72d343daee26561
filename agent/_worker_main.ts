// The entry point of a container Worker (see start_container_worker.ts).
import { messagePortTransport } from "../channel/message_port_transport.ts";
import type { Transport } from "../channel/transport.ts";
import { CODECS } from "./_codec_names.ts";
import { internals } from "./_internal.ts";
import { loadSerializers, serializerNames } from "./_load_serializers.ts";
import { Container } from "./container.ts";
import { ExternalClock } from "./external_clock.ts";
import { Manager } from "./manager.ts";

/** What the parent sends. */
export type WorkerCommand =
  | {
    type: "init";
    name: string;
    codec: string;
    /** The parent's `maxFrameSize`: both ends of the link need the same. */
    maxFrameSize?: number;
    clockStart?: string;
    clockInitTime?: number;
    base: string;
    /** The spec of the module that exports the serializers. */
    serializers?: string;
    allowSpawn?: readonly string[];
    /** The parent container's address and the port linked to it. */
    parent: string;
    port: MessagePort;
  }
  | { type: "attach"; addr: string; port: MessagePort }
  /** The sibling at `addr` was terminated: drop the link to it. */
  | { type: "detach"; addr: string };

/** What the worker answers. */
export type WorkerReport =
  /** `serializers`: the class names of the worker container's serializers. */
  | { type: "ready"; manager: string; serializers: string[] }
  | { type: "error"; message: string }
  | { type: "stopped" }
  /** The worker ends otherwise (`self.close()` or `Deno.exit()` in it). */
  | { type: "ended" };

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<WorkerCommand>) => void) | null;
  postMessage(report: WorkerReport): void;
  close(): void;
};

// A Worker that closes itself or exits tells its parent nothing: say so,
// or the parent's calls to its agents and its shutdown wait forever.
let told = false;
function ended(): void {
  if (told) return;
  told = true;
  scope.postMessage({ type: "ended" });
}
const closeWorker = scope.close.bind(scope);
scope.close = () => {
  ended();
  closeWorker();
};
self.addEventListener("unload", ended);

const created = Promise.withResolvers<Container>();
created.promise.catch(() => {});
/** The links to sibling workers by address. */
const siblings = new Map<string, Transport>();

scope.onmessage = async (event) => {
  const command = event.data;
  if (command.type === "attach" || command.type === "detach") {
    // Links to sibling workers; they may come before the container is made
    // (and are handled in order, as both wait for it).
    const container = await created.promise;
    // A terminated sibling tells nobody; closing the link fails the calls
    // waiting for it instead of leaving them pending forever.
    siblings.get(command.addr)?.close?.();
    siblings.delete(command.addr);
    if (command.type === "attach") {
      const transport = messagePortTransport(command.port);
      siblings.set(command.addr, transport);
      internals.get(container)!.attach(command.addr, transport);
    }
    return;
  }
  try {
    const serializers = command.serializers === undefined
      ? []
      : await loadSerializers(command.serializers, command.base);
    const container = await Container.create(`worker://${command.name}`, {
      codec: CODECS[command.codec],
      maxFrameSize: command.maxFrameSize,
      serializers,
      clock: command.clockStart === undefined
        ? undefined
        : new ExternalClock(command.clockStart, command.clockInitTime ?? 0),
    });
    internals.get(container)!.attach(
      command.parent,
      messagePortTransport(command.port),
    );
    const manager = new Manager(container, {
      base: command.base,
      allowSpawn: command.allowSpawn,
      onStop: () => {
        told = true;
        scope.postMessage({ type: "stopped" });
        closeWorker();
      },
    });
    created.resolve(container);
    scope.postMessage({
      type: "ready",
      manager: manager.addr,
      serializers: serializerNames(serializers),
    });
  } catch (error) {
    created.reject(error);
    scope.postMessage({
      type: "error",
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
