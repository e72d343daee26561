// A parent process for worker_end_test.ts: starts a container process,
// prints one JSON line with the child's address and pid, and runs until it
// is killed (the test kills it with SIGKILL, which it cannot handle).
import { Container, startContainerProcess } from "../../agent/mod.ts";

const container = await Container.create({ hostname: "127.0.0.1", port: 0 });
const child = await startContainerProcess({ container });
console.log(JSON.stringify({ addr: child.addr, pid: child.process.pid }));
await new Promise(() => {});
