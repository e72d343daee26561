// The channel servers' echo loops, shared by the peer process and the js
// family.
import type { Channel } from "../mod.ts";

/** Answers every request with its content: `for await` and `await reply`. */
export async function echo(channel: Channel): Promise<void> {
  for await (const request of channel) await request.reply(request.content);
}

/** The same with the loop for throughput: the requests of a read at once. */
export async function echoEach(channel: Channel): Promise<void> {
  for (;;) {
    let request = channel.tryRecv();
    if (request === undefined) {
      try {
        request = await channel.recv();
      } catch {
        return; // Closed.
      }
    }
    request.reply(request.content).catch(() => {});
  }
}
