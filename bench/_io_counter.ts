// Counts socket reads and writes, for `e2e.ts --count-io`: wraps the
// methods every path to a socket goes through (stream writers and readers,
// and Deno.Conn's own read/write). The wrappers cost a counter increment,
// but they are still a patch of built-ins: only installed on request.

/** Reads and writes so far (of all streams and connections of this process). */
export const ioCounts = { reads: 0, writes: 0 };

type Method = (this: unknown, ...args: unknown[]) => unknown;

function wrap(proto: object, name: string, count: () => void): void {
  const original = (proto as Record<string, Method>)[name];
  if (typeof original !== "function") return;
  Object.defineProperty(proto, name, {
    configurable: true,
    writable: true,
    value: function (this: unknown, ...args: unknown[]) {
      count();
      return original.apply(this, args);
    },
  });
}

/** Installs the counters (once). */
export async function installIoCounter(): Promise<void> {
  const countRead = () => ioCounts.reads++;
  const countWrite = () => ioCounts.writes++;
  wrap(WritableStreamDefaultWriter.prototype, "write", countWrite);
  wrap(ReadableStreamDefaultReader.prototype, "read", countRead);
  wrap(ReadableStreamBYOBReader.prototype, "read", countRead);
  // Deno.Conn's class is not exported: take it from a connection.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  let proto = Object.getPrototypeOf(conn);
  while (proto !== null && !Object.hasOwn(proto, "write")) {
    proto = Object.getPrototypeOf(proto);
  }
  if (proto !== null) {
    wrap(proto, "write", countWrite);
    wrap(proto, "read", countRead);
  }
  conn.close();
  listener.close();
}
