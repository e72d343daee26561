// The messages of a NATS session (see NatsTransport). The first byte says
// what a message is:
//   DATA  [0][seq u32] bytes
//   PING  [1][sent u32][read f64] the sender's subject (reply: that subject)
//   PONG  [2][sent u32][read f64]
//   ACK   [3][sent u32][read f64]
//   CLOSE [4][sent u32] reason (UTF-8; empty: a clean end)
// `sent` is the number of the sender's last data message, `read` how many
// bytes it has read.

import { clipPeerText } from "../channel/_message.ts";

export const DATA = 0;
export const PING = 1;
export const PONG = 2;
export const ACK = 3;
export const CLOSE = 4;
export const DATA_HEADER = 5;
export const CLOSE_HEADER = 5;
export const CONTROL_SIZE = 13;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A data message: a copy of `piece` of its own (NATS keeps it until written). */
export function dataMessage(seq: number, piece: Uint8Array): Uint8Array {
  const message = new Uint8Array(DATA_HEADER + piece.length);
  message[0] = DATA;
  new DataView(message.buffer).setUint32(1, seq);
  message.set(piece, DATA_HEADER);
  return message;
}

/** A PING (with `from`), PONG or ACK. */
export function controlMessage(
  kind: typeof PING | typeof PONG | typeof ACK,
  sent: number,
  read: number,
  from?: string,
): Uint8Array {
  const extra = from === undefined ? undefined : encoder.encode(from);
  const message = new Uint8Array(CONTROL_SIZE + (extra?.length ?? 0));
  const view = new DataView(message.buffer);
  message[0] = kind;
  view.setUint32(1, sent);
  view.setFloat64(5, read);
  if (extra !== undefined) message.set(extra, CONTROL_SIZE);
  return message;
}

/** The `sent` and `read` of a control message (at least CONTROL_SIZE bytes). */
export function readControl(data: Uint8Array): { sent: number; read: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { sent: view.getUint32(1), read: view.getFloat64(5) };
}

/**
 * How many bytes the peer says it has read, from its control message,
 * checked: it sent nothing we have not received (else a message was
 * lost), and read no more than we sent (an honest peer cannot; the report
 * would open our window for good). An `Error` when either is wrong.
 */
export function peerRead(
  peer: string,
  data: Uint8Array,
  received: number,
  sentBytes: number,
): number | Error {
  const { sent, read } = readControl(data);
  // Everything the peer sent before this message came before it.
  const behind = (sent - received) >>> 0;
  if (behind !== 0 && behind < 0x80000000) {
    return lostError(
      peer,
      `it sent #${sent}, the last received is #${received}`,
    );
  }
  if (!(read >= 0 && read <= sentBytes)) {
    return badMessage(
      peer,
      "control",
      `it says it read ${read} bytes, of ${sentBytes} sent`,
    );
  }
  return read;
}

/** The `from` of a PING. */
export function pingFrom(data: Uint8Array): string {
  return decoder.decode(data.subarray(CONTROL_SIZE));
}

/** The sequence number of a data message. */
export function dataSeq(data: Uint8Array): number {
  return ((data[1] << 24) | (data[2] << 16) | (data[3] << 8) | data[4]) >>> 0;
}

/**
 * A CLOSE after data message number `sent`: the peer checks that it got
 * them all, so that a gap before the end is not taken for a clean end.
 */
export function closeMessage(sent: number, reason: string): Uint8Array {
  const text = encoder.encode(reason.slice(0, 1000));
  const message = new Uint8Array(CLOSE_HEADER + text.length);
  message[0] = CLOSE;
  new DataView(message.buffer).setUint32(1, sent);
  message.set(text, CLOSE_HEADER);
  return message;
}

/** The reason of a CLOSE (at least CLOSE_HEADER bytes), cut as peer text is. */
export function closeReason(data: Uint8Array): string {
  return clipPeerText(decoder.decode(data.subarray(CLOSE_HEADER)));
}

/** A gap in `peer`'s data messages, `what` says where. */
export function lostError(peer: string, what: string): Error {
  return new Error(
    `Messages from ${peer} were lost (${what}), e.g. in a NATS server failover`,
  );
}

/** A message of kind `what` from `peer` that cannot be read, or why (`cause`). */
export function badMessage(peer: string, what: string, cause?: unknown): Error {
  return new Error(
    `Cannot read a ${what}${what && " "}message from ${peer}${
      cause === undefined
        ? ""
        : `: ${cause instanceof Error ? cause.message : String(cause)}`
    }`,
    { cause },
  );
}

/** A data message to `peer` that NATS did not take (`closed`: the connection is). */
export function notSent(peer: string, closed: boolean, cause: unknown): Error {
  return new Error(
    `Cannot write to ${peer}: ${
      closed
        ? "the NATS connection is closed"
        : cause instanceof Error
        ? cause.message
        : String(cause)
    }`,
    { cause },
  );
}

/** The error of a write the server's `max_payload` leaves no room for. */
export function noRoom(peer: string, maxPayload: number): Error {
  return new Error(
    `Cannot write to ${peer}: the server's max_payload of ${maxPayload} bytes leaves no room for data`,
  );
}

/** The error of a peer that sent while more than `window` bytes were unread. */
export function beyondWindow(
  peer: string,
  unread: number,
  window: number,
): Error {
  return new Error(
    `${peer} sent ${unread} bytes that were not read yet, beyond the window of ${window}`,
  );
}
