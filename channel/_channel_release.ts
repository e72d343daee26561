import { ConnectionClosedError } from "../errors.ts";
import { deadlineTimer } from "./_channel_options.ts";
import type { IncomingRequests } from "./_incoming_requests.ts";
import type { MessageWriter } from "./_message_writer.ts";
import type { ReadLoop } from "./_read_loop.ts";
import type { Transport } from "./transport.ts";

/** What a closing channel releases, in order. */
export interface ChannelParts {
  readonly peer: string;
  readonly transport: Transport;
  readonly writer: MessageWriter;
  readonly requests: IncomingRequests;
  readonly readLoop: ReadLoop;
}

/**
 * Releases a channel's parts once it has shut down. For a clean close
 * (`error` undefined) it first waits, at most `timeout` ms or until
 * `readEnded` settles (the peer is gone), for the requests taken to be
 * answered and the queued frames to be written; a failure aborts the
 * frames at once. Either way the transport is closed and reading ends.
 */
export async function releaseChannel(
  parts: ChannelParts,
  error: unknown,
  timeout: number,
  readEnded: Promise<"gone">,
): Promise<void> {
  const { writer, readLoop } = parts;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (error === undefined) {
    const graceful = (async () => {
      const answered = parts.requests.allAnswered();
      if (answered !== undefined) await answered;
      writer.finish();
      await writer.sendChain;
      await writer.frames.drained();
    })();
    const late = new Promise<"late">((resolve) => {
      timer = deadlineTimer(timeout, () => resolve("late"));
    });
    const outcome = await Promise.race([
      graceful.then(() => "done" as const),
      late,
      readEnded,
    ]);
    writer.finish();
    // Cut the connection only if frames are stuck; unanswered requests
    // alone still allow a clean close.
    if (outcome !== "done" && !writer.frames.idle) {
      writer.frames.abort(
        new ConnectionClosedError(
          outcome === "late"
            ? `Closing the channel to ${parts.peer} timed out after ${timeout} ms`
            : `Connection to ${parts.peer} ended while closing`,
        ),
      );
    } else {
      // Bounded too: a node socket's stream closes only once its buffer
      // has reached the peer, which may have stopped reading (one that
      // only ended its own side still reads: not cut short for that). Past
      // the deadline, or with the peer gone, it gets a turn; the
      // transport's close below ends it.
      await Promise.race([
        writer.frames.close(),
        outcome === "done"
          ? late
          : new Promise<void>((resolve) => setImmediate(resolve)),
      ]);
    }
  } else {
    writer.finish();
    writer.frames.abort(error);
  }
  clearTimeout(timer);
  // Closing the transport also ends a write stuck on a peer that does
  // not read, which an abort alone would wait for.
  try {
    parts.transport.close?.();
  } catch {
    // Gone already.
  }
  await readLoop.cancel();
  await readLoop.done;
  readLoop.releaseLock();
}
