// Telemetry that throws (a tracer, a span, a meter, or a telemetry option
// of the user's) never fails or stops a call: the call is answered, the
// connection goes on serving, and the failure is logged once.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  expose,
  openConnection,
  RpcClient,
  type RpcTelemetryOptions,
  startServer,
} from "../../rpc/mod.ts";
import { Recorder } from "../_telemetry.ts";
import { within } from "../_within.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };

class Calculator {
  @expose
  add(a: number, b: number): number {
    return a + b;
  }
}

/** Spans started and ended by the tracers below. */
const spans = { started: 0, ended: 0 };

/** A span whose methods throw where `broken` says. */
function spanThatThrows(broken: Set<string>) {
  const fail = (name: string) => {
    if (broken.has(name)) throw new Error(`${name} broken`);
  };
  const span = {
    spanContext: () => ({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: 1,
    }),
    setAttribute: () => (fail("setAttribute"), span),
    setAttributes: () => span,
    addEvent: () => (fail("addEvent"), span),
    addLink: () => span,
    addLinks: () => span,
    recordException: () => {},
    setStatus: () => span,
    updateName: () => span,
    isRecording: () => true,
    end: () => {
      spans.ended++;
      fail("end");
    },
  };
  return span;
}

/** Telemetry options whose tracer, spans or callbacks throw where `broken` says. */
function brokenTelemetry(broken: Set<string>): RpcTelemetryOptions {
  const tracer = {
    startSpan: () => {
      if (broken.has("startSpan")) throw new Error("startSpan broken");
      spans.started++;
      return spanThatThrows(broken);
    },
    startActiveSpan: () => {
      throw new Error("not used");
    },
  };
  const meter = {
    createHistogram: () => ({
      record: () => {
        if (broken.has("record")) throw new Error("record broken");
      },
    }),
    createCounter: () => ({
      add: () => {
        if (broken.has("add")) throw new Error("add broken");
      },
    }),
    createObservableCounter: () => ({ addCallback: () => {} }),
    createObservableUpDownCounter: () => ({ addCallback: () => {} }),
    createObservableGauge: () => ({ addCallback: () => {} }),
    addBatchObservableCallback: () => {},
  };
  return {
    tracerProvider: {
      getTracer: () => {
        if (broken.has("getTracer")) throw new Error("getTracer broken");
        return tracer;
      },
    },
    meterProvider: {
      getMeter: () => {
        if (broken.has("getMeter")) throw new Error("getMeter broken");
        return meter;
      },
    },
    callAttributes: () => {
      if (broken.has("callAttributes")) {
        throw new Error("callAttributes broken");
      }
      return undefined;
    },
    simTime: () => {
      if (broken.has("simTime")) throw new Error("simTime broken");
      return undefined;
    },
  } as unknown as RpcTelemetryOptions;
}

const BROKEN = [
  "startSpan",
  "end",
  "setAttribute",
  "record",
  "callAttributes",
  "simTime",
];

Deno.test("telemetry that throws on either side neither fails nor stops calls, and is logged once", async () => {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    for (const name of BROKEN) {
      for (const side of ["client", "server"] as const) {
        const telemetry = brokenTelemetry(new Set([name]));
        const [a, b] = createMemoryPair();
        await using _server = new RpcClient(new Channel(b), {
          service: new Calculator(),
          telemetry: side === "server" ? telemetry : false,
        });
        await using client = new RpcClient<Calculator>(new Channel(a), {
          telemetry: side === "client" ? telemetry : false,
        });
        const what = `${name} broken on the ${side} side`;
        assert.equal(await within(5_000, what, client.remote.add(1, 2)), 3);
        assert.equal(await within(5_000, what, client.remote.add(2, 3)), 5);
        // A failed call too: its span is marked failed (setAttribute).
        await assert.rejects(
          within(5_000, what, client.call("nope")),
          /not found/,
        );
      }
    }
  } finally {
    console.error = original;
  }
  // Once per process (no other test file breaks telemetry).
  assert.equal(logged.length, 1, `${logged.length} lines logged`);
  assert.match(String(logged[0][0]), /^aiomas: telemetry threw/);
  // Every span started was ended, however its marking failed.
  assert.equal(spans.ended, spans.started);
});

Deno.test("a span's addEvent that throws when a connection closes with a call open is not an uncaught error", async () => {
  const [a, b] = createMemoryPair();
  const entered = Promise.withResolvers<void>();
  class Slow {
    @expose
    wait(): Promise<never> {
      entered.resolve();
      return new Promise(() => {});
    }
  }
  const original = console.error;
  console.error = () => {};
  try {
    const server = new RpcClient(new Channel(b), { service: new Slow() });
    const client = new RpcClient<Slow>(new Channel(a), {
      telemetry: brokenTelemetry(new Set(["addEvent"])),
    });
    const call = client.remote.wait();
    await entered.promise;
    await server.close({ timeout: 0 });
    await assert.rejects(call);
    await client.close();
  } finally {
    console.error = original;
  }
});

Deno.test("telemetry that throws neither stops nor leaks a connection being opened or accepted (its aiomas.connect span, its providers)", async () => {
  const original = console.error;
  console.error = () => {};
  try {
    for (
      const name of ["startSpan", "end", "simTime", "getTracer", "getMeter"]
    ) {
      const telemetry = brokenTelemetry(new Set([name]));
      await using server = await startServer(LOCAL, new Calculator(), {
        telemetry,
      });
      await using client = await within(
        5_000,
        `openConnection with ${name} broken`,
        openConnection<Calculator>(server.addr, { telemetry }),
      );
      assert.equal(await within(5_000, name, client.remote.add(1, 2)), 3);
    }
  } finally {
    console.error = original;
  }
});

Deno.test("a meter provider that throws leaves the spans of a working tracer provider", async () => {
  await using recorder = new Recorder();
  const original = console.error;
  console.error = () => {};
  try {
    const telemetry = {
      tracerProvider: recorder.options.tracerProvider,
      meterProvider: {
        getMeter: () => {
          throw new Error("getMeter broken");
        },
      },
    } as unknown as RpcTelemetryOptions;
    const [a, b] = createMemoryPair();
    await using _server = new RpcClient(new Channel(b), {
      service: new Calculator(),
      telemetry: false,
    });
    await using client = new RpcClient<Calculator>(new Channel(a), {
      telemetry,
    });
    assert.equal(await client.remote.add(1, 2), 3);
  } finally {
    console.error = original;
  }
  const names = (await recorder.spans()).map((span) => span.name);
  assert.deepEqual(names, ["aiomas/add"]);
});
