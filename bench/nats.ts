/**
 * RPC over NATS beside nats.js's own request()/respond() through the same
 * local nats-server, and beside RPC over direct TCP, all in one run:
 *
 *     deno task bench:nats [--rounds=10] [--round-ms=1000] [--slice-ms=50] [--in-flight=16] [--codec=json|msgpack]
 *
 * (`deno run -A bench/nats.ts …`; needs `nats-server` on PATH.)
 *
 * A second process serves all three (a nats.js responder, `serveNats`, an
 * RPC server on TCP); this one calls them with `--in-flight` calls in
 * flight. Each round alternates slices of `--slice-ms` of each kind, so
 * that all see the same drift of a shared machine; the ratios are per
 * round, and the median is printed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { openConnection } from "../channel/open_connection.ts";
import { startServer } from "../channel/start_server.ts";
import { type CodecClass, JsonCodec, MsgPackCodec } from "../codecs/mod.ts";
import { Agent, Container, parseAgentAddress } from "../agent/mod.ts";
import { connectNats, serveNats } from "../nats/mod.ts";
import { expose } from "../rpc/expose.ts";
import { RpcClient } from "../rpc/rpc_client.ts";
import { ServiceDict } from "../rpc/service_dict.ts";
import { NatsServer } from "../tests/nats/_server.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  strict: true,
  options: {
    rounds: { type: "string", default: "10" },
    "round-ms": { type: "string", default: "1000" },
    "slice-ms": { type: "string", default: "50" },
    "in-flight": { type: "string", default: "16" },
    codec: { type: "string", default: "json" },
    // The child process that serves (internal): --serve=<nats url>.
    serve: { type: "string" },
  },
});

const ROUNDS = Number(args.rounds);
const ROUND_MS = Number(args["round-ms"]);
const SLICE_MS = Number(args["slice-ms"]);
const IN_FLIGHT = Number(args["in-flight"]);
const CODEC_NAME = args.codec!;
const CODEC: CodecClass = CODEC_NAME === "msgpack" ? MsgPackCodec : JsonCodec;
const PAYLOAD = "ohai, a short message";

/** Whether containers take `nats://` addresses (the container integration). */
const NATS_AGENTS = (() => {
  try {
    return parseAgentAddress("nats://x/0").scheme as string === "nats";
  } catch {
    return false;
  }
})();

/** `Container.create` with the `nats` option (typed loosely until it is there). */
const createContainer = Container.create as (
  addr: string | { hostname: string; port: number },
  options?: Record<string, unknown>,
) => Promise<Container>;

class Echo extends Agent {
  @expose
  echo(value: unknown): unknown {
    return value;
  }
}

if (args.serve !== undefined) await serve(args.serve);
else await main();

/** The serving process: prints the TCP port once everything listens. */
async function serve(url: string): Promise<void> {
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  const nc = await connect({ servers: url });
  nc.subscribe("bench.raw", {
    callback: (_e, msg) => {
      msg.respond(msg.data);
    },
  });
  const service = new ServiceDict({ echo: (value: unknown) => value });
  await serveNats(service, { nats: nc, subject: "bench.rpc", codec: CODEC });
  const tcp = await startServer({ hostname: "127.0.0.1", port: 0 }, (ch) => {
    new RpcClient(ch, { service });
  }, { codec: CODEC });
  const agents: Record<string, string> = {};
  if (NATS_AGENTS) {
    const overNats = await createContainer("nats://bench-callee", {
      codec: CODEC,
      nats: { servers: url },
    });
    agents.nats = new Echo(overNats).addr;
    const overTcp = await createContainer({ hostname: "127.0.0.1", port: 0 }, {
      codec: CODEC,
    });
    agents.tcp = new Echo(overTcp).addr;
  }
  await nc.flush();
  console.log(JSON.stringify({ tcp: tcp.addr, agents }));
}

async function main(): Promise<void> {
  await using server = await NatsServer.start();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      "-A",
      import.meta.url,
      `--serve=${server.url}`,
      `--codec=${CODEC_NAME}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the serving process ended");
      line += value;
    }
    reader.releaseLock();
    const ready = JSON.parse(line) as {
      tcp: { hostname: string; port: number };
      agents: Record<string, string>;
    };
    await run(server.url, ready.tcp, ready.agents);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

type Call = () => Promise<unknown>;

async function run(
  url: string,
  tcpAddr: { hostname: string; port: number },
  agents: Record<string, string>,
): Promise<void> {
  const { connect } = await import("npm:@nats-io/transport-node@3.4.0");
  const nc = await connect({ servers: url });
  const rpc = await connectNats<{ echo(v: string): string }>("bench.rpc", {
    nats: { servers: url },
    codec: CODEC,
  });
  const tcp = new RpcClient<{ echo(v: string): string }>(
    await openConnection(tcpAddr, { codec: CODEC }),
  );
  const kinds: [string, Call][] = [
    ["nats.js request()", () => nc.request("bench.raw", PAYLOAD)],
    ["aiomas RPC over NATS", () => rpc.remote.echo(PAYLOAD)],
    ["aiomas RPC over TCP", () => tcp.remote.echo(PAYLOAD)],
  ];
  let caller: Container | undefined;
  if (agents.nats !== undefined) {
    caller = await createContainer("nats://bench-caller", {
      codec: CODEC,
      nats: { servers: url },
    });
    const overNats = await caller.connect<Echo>(agents.nats);
    const overTcp = await caller.connect<Echo>(agents.tcp);
    kinds.push(
      ["aiomas agent → agent over NATS", () => overNats.echo(PAYLOAD)],
      ["aiomas agent → agent over TCP", () => overTcp.echo(PAYLOAD)],
    );
  }
  try {
    // Warm-up: one round, not counted.
    await round(kinds, Math.min(ROUND_MS, 500));
    const rates: number[][] = kinds.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      const result = await round(kinds, ROUND_MS);
      result.forEach((rate, i) => rates[i].push(rate));
    }
    const raw = rates[0];
    console.log(
      `NATS bench: ${ROUNDS} rounds × ${ROUND_MS} ms (${SLICE_MS} ms slices, alternating), ${IN_FLIGHT} in flight, ${CODEC_NAME}, one local nats-server, server in a second process`,
    );
    console.log(
      "| kind | median calls/s | median ratio to nats.js request() |",
    );
    console.log("| --- | ---: | ---: |");
    kinds.forEach(([name], i) => {
      const ratios = rates[i].map((rate, r) => rate / raw[r]);
      console.log(
        `| ${name} | ${Math.round(median(rates[i]))} | ${
          median(ratios).toFixed(2)
        } × |`,
      );
    });
    const overTcp = rates[1].map((rate, r) => rate / rates[2][r]);
    console.log(
      `RPC over NATS / RPC over TCP: ${median(overTcp).toFixed(2)} ×`,
    );
    if (caller === undefined) {
      console.log(
        "(agent → agent rows need containers with nats:// addresses: not in this tree yet)",
      );
    } else {
      const agentRatio = rates[3].map((rate, r) => rate / rates[4][r]);
      console.log(
        `agent over NATS / agent over TCP: ${median(agentRatio).toFixed(2)} ×`,
      );
    }
  } finally {
    await caller?.shutdown();
    await tcp.close();
    await rpc.close();
    await nc.close();
  }
}

/** One round: slices of each kind in turn; returns calls/s per kind. */
async function round(kinds: [string, Call][], ms: number): Promise<number[]> {
  const calls = kinds.map(() => 0);
  const time = kinds.map(() => 0);
  const end = performance.now() + ms * kinds.length;
  while (performance.now() < end) {
    for (let i = 0; i < kinds.length; i++) {
      const [n, elapsed] = await slice(kinds[i][1]);
      calls[i] += n;
      time[i] += elapsed;
    }
  }
  return calls.map((n, i) => n / time[i] * 1000);
}

/** `IN_FLIGHT` lanes calling for `SLICE_MS`, drained: calls and ms taken. */
async function slice(call: Call): Promise<[number, number]> {
  const started = performance.now();
  const until = started + SLICE_MS;
  let done = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  return [done, performance.now() - started];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
