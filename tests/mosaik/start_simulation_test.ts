// The command line of startSimulation: mosaik-api-python's.

import assert from "node:assert/strict";
import { ExampleSim } from "../../examples/mosaik/example_sim.ts";
import {
  type LogLevel,
  startSimulation,
  type StartSimulationOptions,
} from "../../mosaik/mod.ts";
import { parseSimulationArgs } from "../../mosaik/_args.ts";
import { textFrame } from "../_frames.ts";
import { FrameReader, writeAll } from "./_driver.ts";
import { InProcess } from "./_mosaik.ts";

function collect(): {
  logs: string[];
  exits: number[];
  options: {
    exit: (code: number) => void;
    log: (level: LogLevel, message: string) => void;
  };
} {
  const logs: string[] = [];
  const exits: number[] = [];
  return {
    logs,
    exits,
    options: {
      exit: (code) => exits.push(code),
      log: (level, message) => logs.push(`${level}: ${message}`),
    },
  };
}

Deno.test("parseSimulationArgs: HOST:PORT, -r, -l, -t in the forms docopt takes", () => {
  assert.deepEqual(parseSimulationArgs(["127.0.0.1:5555"]), {
    mode: "cmd",
    hostname: "127.0.0.1",
    port: 5555,
    logLevel: "info",
    timeout: 60_000,
    help: false,
  });
  for (
    const args of [
      ["-r", "localhost:0"],
      ["localhost:0", "--remote"],
      ["--remote=localhost:0"],
    ]
  ) {
    const parsed = parseSimulationArgs(args);
    assert.equal(parsed.mode, "connect", String(args));
    assert.equal(parsed.hostname, "localhost");
    assert.equal(parsed.port, 0);
  }
  for (
    const args of [
      ["-l", "debug", "h:1"],
      ["-ldebug", "h:1"],
      ["h:1", "--log-level", "DEBUG"],
      ["--log-level=debug", "h:1"],
    ]
  ) {
    assert.equal(parseSimulationArgs(args).logLevel, "debug", String(args));
  }
  assert.equal(parseSimulationArgs(["-t", "2.5", "h:1"]).timeout, 2500);
  assert.equal(parseSimulationArgs(["-t0", "h:1"]).timeout, 0);
  assert.equal(parseSimulationArgs(["--timeout=7", "h:1"]).timeout, 7000);
  assert.equal(parseSimulationArgs(["-h"]).help, true);
});

Deno.test("parseSimulationArgs: what it refuses, and why", () => {
  const cases: [string[], RegExp][] = [
    [[], /^Missing HOST:PORT$/],
    [["h:1", "h:2"], /^Expected one HOST:PORT, got "h:1" and "h:2"$/],
    [["h"], /^Cannot parse "h" as HOST:PORT$/],
    [["h:99999"], /^Cannot parse "h:99999" as HOST:PORT$/],
    [["unix:/tmp/x.sock"], /^Cannot parse "unix:\/tmp\/x.sock" as HOST:PORT$/],
    [
      ["-l", "loud", "h:1"],
      /^Unknown log level "loud" \(expected trace, debug, info, warning, error, critical\)$/,
    ],
    [
      ["-t", "soon", "h:1"],
      /^Timeout must be a number of seconds >= 0, not "soon"$/,
    ],
    [
      ["-t", "-1", "h:1"],
      /^Timeout must be a number of seconds >= 0, not "-1"$/,
    ],
    [["-t"], /^Option -t needs a value$/],
    [["--verbose", "h:1"], /^Unknown option --verbose$/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseSimulationArgs(args),
      { name: "UsageError", message },
      String(args),
    );
  }
});

Deno.test("startSimulation: a bad command line exits 2 with the usage", async () => {
  const { logs, exits, options } = collect();
  assert.equal(await startSimulation(new ExampleSim(), ["-x"], options), 2);
  assert.deepEqual(exits, [2]);
  assert.match(
    logs[0],
    /^error: Unknown option -x\n\nStarts a mosaik simulator\.\n\nUsage:/,
  );
});

Deno.test("startSimulation: --help names the script that runs, and exits 0", async () => {
  const script = new URL(
    "../../examples/mosaik/example_sim.ts",
    import.meta.url,
  );
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", script.pathname, "--help"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
  assert.match(
    new TextDecoder().decode(stdout),
    /\nUsage:\n {4}example_sim\.ts \[options\] HOST:PORT\n/,
  );
});

Deno.test("startSimulation: cmd mode with nobody listening exits 1 naming the address", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // now refused
  const { logs, exits, options } = collect();
  const status = await startSimulation(
    new ExampleSim(),
    [`127.0.0.1:${port}`],
    options,
  );
  assert.equal(status, 1);
  assert.deepEqual(exits, [1]);
  assert.equal(logs[0], "info: Starting ExampleSim ...");
  assert.match(
    logs[1],
    new RegExp(
      `^error: Could not connect to mosaik at 127\\.0\\.0\\.1:${port}: `,
    ),
  );
});

Deno.test("startSimulation: connect mode gives up after -t seconds without mosaik", async () => {
  const { logs, exits, options } = collect();
  const status = await startSimulation(
    new ExampleSim(),
    ["-r", "127.0.0.1:0", "-t", "0"],
    options,
  );
  assert.equal(status, 1);
  assert.deepEqual(exits, [1]);
  assert.match(
    logs[1],
    /^info: Waiting for connection from mosaik on 127\.0\.0\.1:\d+$/,
  );
  assert.match(
    logs[2],
    /^error: No connection from mosaik on 127\.0\.0\.1:\d+ within 0 s$/,
  );
});

Deno.test("startSimulation: connect mode cannot listen on a port in use", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { logs, options } = collect();
  const status = await startSimulation(
    new ExampleSim(),
    ["-r", `127.0.0.1:${taken.addr.port}`],
    options,
  );
  assert.equal(status, 1);
  assert.match(
    logs[1],
    new RegExp(
      `^error: Could not listen on 127\\.0\\.0\\.1:${taken.addr.port}: `,
    ),
  );
});

Deno.test("startSimulation: an IPv6 address it cannot listen on is named in brackets, as -r takes it", async () => {
  // ::2 is no address of this machine: listening fails before any socket
  // is open (or IPv6 is off, which fails as well).
  const { logs, options } = collect();
  const status = await startSimulation(
    new ExampleSim(),
    ["-r", "[::2]:0"],
    options,
  );
  assert.equal(status, 1);
  assert.match(logs[1], /^error: Could not listen on \[::2\]:0: /);
});

/** startSimulation with `-r 127.0.0.1:0`, once it listens, and its port. */
async function startListening(
  options: ReturnType<typeof collect>["options"],
  extra: StartSimulationOptions = {},
): Promise<{ running: Promise<number>; port: number }> {
  const listening = Promise.withResolvers<number>();
  const running = startSimulation(new ExampleSim(), ["-r", "127.0.0.1:0"], {
    ...options,
    ...extra,
    log: (level, message) => {
      options.log(level, message);
      const match = /mosaik on 127\.0\.0\.1:(\d+)$/.exec(message);
      if (match !== null) listening.resolve(Number(match[1]));
    },
  });
  return { running, port: await listening.promise };
}

Deno.test("startSimulation: connect mode takes one connection, then stops listening", async () => {
  const { logs, exits, options } = collect();
  const { running, port } = await startListening(options);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // Once a call is answered, the listener is closed.
    const reader = new FrameReader(conn);
    await writeAll(conn, textFrame('[0, 0, ["setup_done", [], {}]]'));
    assert.equal(
      new TextDecoder().decode((await reader.next())!),
      "[1,0,null]",
    );
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    conn.close();
  }
  assert.equal(await running, 1);
  assert.deepEqual(exits, [1]);
  assert.match(
    logs.at(-1)!,
    /^error: The connection to mosaik \(127\.0\.0\.1:\d+\) was lost before stop/,
  );
});

Deno.test("startSimulation: -l debug logs every call; -l error only errors", async () => {
  {
    await using sim = await InProcess.start(new ExampleSim(), ["-l", "debug"]);
    await sim.init("ExampleSim-0");
    assert.equal(await sim.stop(), 0);
    assert.deepEqual(sim.logs, [
      "info: Starting ExampleSim ...",
      'debug: Calling init("ExampleSim-0", time_resolution=1)',
      "debug: Calling stop()",
      "info: ExampleSim stopped",
    ]);
  }
  {
    await using sim = await InProcess.start(new ExampleSim(), ["-l", "error"]);
    await sim.init();
    assert.equal(await sim.stop(), 0);
    assert.deepEqual(sim.logs, []);
  }
});

/** Runs startSimulation until mosaik's first frame of 31 bytes (above the limit of 16) cuts it. */
async function cutByMaxFrameSize(
  mode: "listen" | "connect",
): Promise<string[]> {
  const { logs, options } = collect();
  const first = textFrame('[0, 0, ["setup_done", [], {}]]');
  if (mode === "listen") {
    const { running, port } = await startListening(options, {
      maxFrameSize: 16,
    });
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, first);
    assert.equal(await running, 1);
    return logs;
  }
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const running = startSimulation(
    new ExampleSim(),
    [`127.0.0.1:${listener.addr.port}`],
    { ...options, maxFrameSize: 16 },
  );
  using conn = await listener.accept();
  await writeAll(conn, first);
  assert.equal(await running, 1);
  return logs;
}

for (const mode of ["listen", "connect"] as const) {
  Deno.test(`startSimulation (${mode}): maxFrameSize reaches the channel to mosaik`, async () => {
    const logs = await cutByMaxFrameSize(mode);
    assert.match(logs.at(-1)!, /^error: .*maxFrameSize 16/);
  });
}

Deno.test("startSimulation: a bad maxFrameSize exits 2 before connecting", async () => {
  const { logs, exits, options } = collect();
  const status = await startSimulation(new ExampleSim(), ["127.0.0.1:1"], {
    ...options,
    maxFrameSize: 0,
  });
  assert.equal(status, 2);
  assert.deepEqual(exits, [2]);
  assert.deepEqual(logs, [
    "error: Cannot use maxFrameSize 0: expected a whole number from 1 up",
  ]);
});

Deno.test("startSimulation in a Worker (no Deno.mainModule) starts and names its program sim.ts", async () => {
  const worker = new Worker(
    new URL("../fixtures/mosaik/worker_sim.ts", import.meta.url),
    { type: "module" },
  );
  try {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(event.message));
    };
    const result = await promise as { status?: number; logs?: string[] };
    assert.equal(result.status, 2, JSON.stringify(result));
    assert.match(
      result.logs!.join("\n"),
      /Usage:\n +sim\.ts \[options\] HOST:PORT/,
    );
  } finally {
    worker.terminate();
  }
});
