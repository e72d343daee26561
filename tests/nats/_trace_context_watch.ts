// Shared by the trace_context_*_test.ts files: a raw NATS subscriber that
// records the `Aiomas-Trace` header values of every message.
import { connect } from "npm:@nats-io/transport-node@3.4.0";
import { TRACE_HEADER } from "../../nats/_trace_carrier.ts";

/**
 * Watches the raw NATS messages of a subject pattern (the sessions' data
 * messages included): their `Aiomas-Trace` header values.
 */
export async function watch(url: string) {
  const nc = await connect({ servers: url });
  const seen: string[][] = [];
  let messages = 0;
  nc.subscribe(">", {
    callback: (_error, msg) => {
      messages++;
      const values = msg.headers?.values(TRACE_HEADER) ?? [];
      if (values.length > 0) seen.push(values);
    },
  });
  await nc.flush();
  return {
    seen,
    get messages() {
      return messages;
    },
    async [Symbol.asyncDispose]() {
      await nc.flush();
      await nc.close();
    },
  };
}
