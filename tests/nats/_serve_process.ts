// A service on a NATS subject in a process of its own, for tests that kill
// it: `deno run -A _serve_process.ts <nats url> <subject>`. Prints "ready"
// once it serves.
import { serveNats } from "../../nats/mod.ts";
import { ServiceDict } from "../../rpc/service_dict.ts";

const [url, subject] = Deno.args;
await serveNats(
  new ServiceDict({
    echo: (value: unknown) => value,
    hang: () => new Promise(() => {}),
  }),
  { nats: { servers: url }, subject },
);
console.log("ready");
