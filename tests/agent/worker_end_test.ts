// How a Worker or process container ends when it is not its parent that
// ends it: by its own close or exit, its manager stopped by another peer,
// or its parent process killed; and a stop that its container, busy in a
// loop, never answers.
import assert from "node:assert/strict";
import {
  Container,
  type DynamicRemote,
  startContainerProcess,
  startContainerWorker,
} from "../../agent/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { Hanger } from "../fixtures/agents/agents.ts";
import { within } from "../_within.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const AGENTS_URL = new URL("../fixtures/agents/agents.ts", import.meta.url);
const spec = (name: string) => `${AGENTS_URL.href}#${name}`;

async function spawn(
  manager: { spawn(spec: string, ...args: unknown[]): Promise<unknown> },
  name: string,
): Promise<DynamicRemote> {
  const [agent] = await manager.spawn(spec(name)) as [DynamicRemote, string];
  return agent;
}

for (const how of ["close", "exit"] as const) {
  Deno.test(`startContainerWorker: a worker whose agent calls ${how === "close" ? "self.close()" : "Deno.exit()"} is dropped: waiting calls fail, shutdown ends, the name is free`, async () => {
    await using parent = await Container.create(LOCAL);
    const worker = await startContainerWorker({ container: parent, name: "q" });
    // A regression fails here instead of hanging the parent's shutdown.
    try {
      const hanger = await spawn(worker.manager, "Hanger");
      const quitter = await spawn(worker.manager, "Quitter");
      const pending = assert.rejects(hanger.hang(), ConnectionClosedError);
      const answer = await quitter.quit(how).catch((error: unknown) => error);
      assert.ok(
        answer === "quitting" || answer instanceof ConnectionClosedError,
        String(answer),
      );
      await within(30_000, "the waiting call", pending);
      await within(30_000, "the worker's end", worker.ended);
      await using again = await startContainerWorker({
        container: parent,
        name: "q",
      });
      assert.equal(again.addr, "worker://q/");
    } finally {
      worker.terminate();
    }
  });
}

Deno.test("startContainerWorker: a worker whose manager another peer stops is dropped; its name is free", async () => {
  await using parent = await Container.create(LOCAL);
  const worker = await startContainerWorker({ container: parent, name: "s" });
  try {
    const hanger = await spawn(worker.manager, "Hanger");
    const pending = assert.rejects(hanger.hang(), ConnectionClosedError);
    // As a Python master would: the manager's own stop, not worker.stop().
    await worker.manager.stop();
    await within(30_000, "the waiting call", pending);
    await within(30_000, "the worker's end", worker.ended);
    await using again = await startContainerWorker({
      container: parent,
      name: "s",
    });
    assert.equal(await (await spawn(again.manager, "Hanger")).ping(), "pong");
  } finally {
    worker.terminate();
  }
});

Deno.test("startContainerWorker: what code in the worker posts to its parent is not a report: no crash, nothing kept, stop still waits for the clean end", async () => {
  await using parent = await Container.create(LOCAL);
  const worker = await startContainerWorker({ container: parent });
  try {
    const poster = await spawn(worker.manager, "Poster");
    // null crashed the parent process (an uncaught TypeError).
    for (const kind of ["null", "number", "error", "ready"]) {
      assert.equal(await poster.post(kind, 100), "posted");
    }
    // A call in flight is answered: the stop was not taken for done by
    // the first message queued.
    const hanger = await spawn(worker.manager, "Hanger");
    const answered = hanger.wait(100);
    await worker.stop(30_000);
    assert.equal(await answered, "waited");
  } finally {
    worker.terminate();
  }
});

Deno.test("startContainerProcess: kill and stop end though a process the child started holds its stdout", async () => {
  await using parent = await Container.create(LOCAL);
  for (const how of ["kill", "stop"] as const) {
    const child = await startContainerProcess({
      container: parent,
      permissions: ["--allow-net", "--allow-read", "--allow-run"],
    });
    let pid: number | undefined;
    try {
      const launcher = await spawn(child.manager, "Launcher");
      pid = await launcher.launch(600) as number;
      // They waited for that process's end (10 minutes here).
      await within<unknown>(
        30_000,
        `${how}()`,
        how === "kill" ? child.kill() : child.stop(1000),
      );
    } finally {
      try {
        if (pid !== undefined) Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
      await child.kill();
    }
  }
});

Deno.test("stop(timeout) ends a Worker or process container busy in a loop, which never answers the stop", async () => {
  await using parent = await Container.create(LOCAL);
  const worker = await startContainerWorker({ container: parent });
  const process = await startContainerProcess({ container: parent });
  try {
    for (const child of [worker, process]) {
      const spinner = await spawn(child.manager, "Spinner");
      const spinning = spinner.spin(600_000).catch(() => "cut");
      // The stop goes after the spin, which the container runs first.
      await within<unknown>(60_000, "stop(100)", child.stop(100));
      assert.equal(await spinning, "cut");
    }
  } finally {
    worker.terminate();
    await process.kill();
  }
});

Deno.test("stop(Infinity) (or beyond about 24.8 days) waits for a process's clean stop: no kill", async () => {
  await using parent = await Container.create(LOCAL);
  const process = await startContainerProcess({ container: parent });
  try {
    const status = await within(
      60_000,
      "stop(Infinity)",
      process.stop(Infinity),
    );
    // setTimeout fired such a deadline at once: the child was killed.
    assert.deepEqual([status.code, status.signal], [0, null]);
  } finally {
    await process.kill();
  }
});

Deno.test("the parent's shutdown ends a Worker or process container that hangs while it starts", async () => {
  const serializers = new URL(
    "../fixtures/agents/hanging_serializers.ts#serializers",
    import.meta.url,
  ).href;
  const parent = await Container.create(LOCAL);
  // Both register with the parent before their first await: the shutdown
  // below finds them starting.
  const starts = [
    startContainerWorker({ container: parent, serializers }),
    startContainerProcess({ container: parent, serializers }),
  ].map((start) => start.then(() => "ready", (error: Error) => error.message));
  await parent.shutdown();
  const [worker, process] = await within(
    30_000,
    "the starts",
    Promise.all(starts),
  );
  assert.match(
    worker,
    /^The worker container worker:\/\/w\d+\/ was ended while it started: its parent container shut down$/,
  );
  assert.equal(
    process,
    "The container process was ended while it started: its parent container shut down",
  );
});

Deno.test("startContainerProcess: the child ends when its parent process is killed (SIGKILL)", async () => {
  const parentProcess = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-run",
      "--allow-env",
      new URL("./_process_parent.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = parentProcess.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  await lines.cancel();
  const { addr, pid } = JSON.parse(text) as { addr: string; pid: number };
  await using me = await Container.create(LOCAL);
  try {
    const hanger = await spawn(
      await me.connect<{ spawn(spec: string): Promise<unknown> }>(`${addr}0`),
      "Hanger",
    );
    const pending = assert.rejects(hanger.hang(), ConnectionClosedError);
    parentProcess.kill("SIGKILL");
    await parentProcess.status;
    // The child shuts down: its connections close.
    await within(30_000, "the orphan's shutdown", pending);
  } finally {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Gone, as it should be.
    }
  }
});

Deno.test("Container shutdown rejects its pending calls at once, not after its Worker child has stopped", async () => {
  await using other = await Container.create(LOCAL);
  const elsewhere = new Hanger(other);
  const parent = await Container.create(LOCAL);
  const child = await startContainerWorker({ container: parent });
  // A call the child is handling: its stop waits out its close grace.
  const busy = await spawn(child.manager, "Hanger");
  const handled = busy.hang();
  handled.catch(() => {});
  await busy.ping();
  const proxy = await parent.connect<Hanger>(elsewhere.addr);
  const order: string[] = [];
  const outcome = proxy.hang().then(
    () => order.push("answered"),
    (error) => {
      order.push("call rejected");
      return error;
    },
  );
  child.ended.then(() => order.push("child ended"));
  await within(10_000, "parent.shutdown()", parent.shutdown());
  await child.ended;
  const error = await outcome;
  assert.deepEqual(order, ["call rejected", "child ended"]);
  assert.ok(error instanceof ConnectionClosedError, String(error));
  assert.equal(error.message, `Container ${parent.addr} is shut down`);
});

Deno.test("startContainerWorker and startContainerProcess on a container that is shutting down start nothing and say so", async () => {
  // A child that would hang while it starts: had one been started, no
  // shutdown task would end it (the shutdown has begun), and the start
  // would never settle.
  const serializers = new URL(
    "../fixtures/agents/hanging_serializers.ts#serializers",
    import.meta.url,
  ).href;
  const parent = await Container.create(LOCAL);
  const shutdown = parent.shutdown();
  for (
    const start of [
      startContainerWorker({ container: parent, serializers }),
      startContainerProcess({ container: parent, serializers }),
    ]
  ) {
    await within(
      10_000,
      "a start during shutdown",
      assert.rejects(start, ConnectionClosedError),
    );
  }
  await shutdown;
});

Deno.test("a bad external clock is refused before a Worker or process is started; a process that exits early gives its exit code", async () => {
  await using parent = await Container.create(LOCAL);
  for (
    const start of [startContainerWorker, startContainerProcess] as const
  ) {
    await assert.rejects(
      start({ container: parent, externalClockStart: "not a date" }),
      { name: "RangeError", message: "Invalid start date: not a date" },
    );
  }
  // A child that cannot start: its serializers module does not exist.
  await assert.rejects(
    startContainerProcess({
      container: parent,
      serializers: new URL("../fixtures/agents/missing.ts#x", import.meta.url)
        .href,
    }),
    {
      message:
        /^The container process exited before it was ready \(exit code 2; its error is on stderr\)$/,
    },
  );
});
