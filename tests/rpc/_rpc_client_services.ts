// Services and assertions shared by the rpc_client_*_test.ts files: a
// MathServer, a ClientService the connecting side serves, a serializable
// Point, and checks of RemoteErrors and of proxies passed where they cannot go.
import assert from "node:assert/strict";
import { serializable, type SerializerSpec } from "../../codecs/mod.ts";
import { RemoteError } from "../../errors.ts";
import { expose, type Remote } from "../../rpc/mod.ts";

export class Point {
  constructor(public x: number, public y: number) {}
}
export const POINT: SerializerSpec = serializable(Point, ["x", "y"]);

export class Unregistered {
  value = 1;
}

export class Sub {
  @expose({ params: ["a", "b"] })
  mul(a: number, b = 1): number {
    return a * b;
  }
}

export class MathServer {
  @expose
  sub: Sub = new Sub();
  /** `slow` waits for this; tests resolve it. */
  gate: PromiseWithResolvers<void> = Promise.withResolvers();
  /** Resolved when a `slow` call has started. */
  slowStarted: PromiseWithResolvers<void> = Promise.withResolvers();

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  async slow(value: string): Promise<string> {
    this.slowStarted.resolve();
    await this.gate.promise;
    return value;
  }

  @expose
  fast(value: string): string {
    return value;
  }

  @expose
  echo(value: unknown): unknown {
    return value;
  }

  @expose
  fail(name: string, message: string): never {
    const error = new Error(message);
    error.name = name;
    throw error;
  }

  @expose
  async failAsync(): Promise<never> {
    await Promise.resolve();
    throw new RangeError("out of range");
  }

  @expose
  throwString(): never {
    throw "just a string";
  }

  @expose
  bytes(): Uint8Array {
    return new Uint8Array([1, 2, 3]);
  }

  @expose
  unregistered(): Unregistered {
    return new Unregistered();
  }

  @expose
  aFunction(): () => number {
    return () => 1;
  }

  @expose
  async callBack(peer: unknown): Promise<string> {
    return "client says " + await (peer as Remote<ClientService>).ping();
  }

  @expose
  async subEcho(sub: unknown): Promise<string> {
    return await (sub as Remote<ClientSub>).echo("x");
  }

  @expose
  async viaReturn(peer: unknown): Promise<string> {
    const sub = await (peer as Remote<ClientService>).getSub();
    return await (sub as unknown as Remote<ClientSub>).echo("y");
  }

  @expose
  getSub(): Sub {
    return this.sub;
  }

  @expose
  getSelf(): MathServer {
    return this;
  }

  @expose
  swap(p: Point): Point {
    return new Point(p.y, p.x);
  }

  @expose
  async describePoint(p: unknown, peer: unknown): Promise<unknown[]> {
    return [p instanceof Point, await (peer as Remote<ClientService>).ping()];
  }
}

export class ClientSub {
  @expose
  echo(value: string): string {
    return `echo ${value}`;
  }
}

export class ClientService {
  @expose
  sub: ClientSub = new ClientSub();

  @expose
  ping(): string {
    return "pong";
  }

  @expose
  getSub(): ClientSub {
    return this.sub;
  }
}

export const CALL_SHAPE =
  "Cannot call: the request must be [path: string, args: array, kwargs: map]";

export function lastLine(text: string): string {
  return text.split("\n").filter((line) => line.trim() !== "").at(-1) ?? "";
}

export function remoteError(name: string, message: string | RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof RemoteError, `not a RemoteError: ${error}`);
    assert.equal(error.remoteName, name);
    if (typeof message === "string") {
      assert.equal(error.remoteMessage, message);
      assert.equal(lastLine(error.remoteTraceback), `${name}: ${message}`);
    } else {
      assert.match(error.remoteMessage, message);
    }
    assert.ok(error.remoteTraceback.endsWith("\n"));
    return true;
  };
}

export function passOnError(label: string) {
  return {
    name: "SerializationError",
    message:
      `Cannot pass ${label} on: a proxy only works on its own connection (pass an address instead)`,
  };
}

export function passBackError(label: string) {
  return {
    name: "SerializationError",
    message:
      `Cannot pass ${label} back to the peer it came from: a proxy is not sent, not even to its own peer (pass its path, or an agent's address, instead)`,
  };
}
