/**
 * The channel layer: frames (4-byte big-endian length + payload), codec
 * stages and the request/reply {@linkcode Channel}, over TCP, Unix sockets,
 * TLS ({@linkcode openConnection}, {@linkcode startServer}) and in-memory
 * streams ({@linkcode createMemoryPair}).
 *
 * @example
 * ```ts
 * import { openConnection, startServer } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * await using server = await startServer({ hostname: "127.0.0.1", port: 0 }, async (channel) => {
 *   for await (const request of channel) await request.reply("cya");
 * });
 * await using channel = await openConnection(server.addr);
 * assert.equal(await channel.send("ohai"), "cya");
 * ```
 *
 * @module
 */
export { formatAddress, parseAddress } from "./address.ts";
export type { Address, ParsedAddress } from "./address.ts";
export type { ConnectTlsOptions, ListenTlsOptions } from "./_connect.ts";
export type { Message } from "./_message.ts";
// The codec types in this module's signatures.
export type {
  Codec,
  CodecClass,
  CodecOptions,
  Constructor,
  DecodeOptions,
  FromWire,
  SerializerSpec,
  ToWire,
} from "../codecs/mod.ts";
export {
  Channel,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_FRAME_TIMEOUT,
  DEFAULT_MAX_UNANSWERED_SIZE,
  DEFAULT_WRITE_TIMEOUT,
  UNREPORTED_COST_FACTOR,
} from "./channel.ts";
export {
  DEFAULT_PARTIAL_FRAME_BUDGET,
  partialFrameBudget,
  setPartialFrameBudget,
} from "./_frame_budget.ts";
export type { PartialFrameBudget } from "./_frame_budget.ts";
export {
  DEFAULT_UNANSWERED_BUDGET,
  setUnansweredBudget,
  unansweredBudget,
} from "./_unanswered_budget.ts";
export type { UnansweredBudget } from "./_unanswered_budget.ts";
export type {
  ChannelOptions,
  ChannelStats,
  CloseOptions,
  RecvOptions,
  SendOptions,
} from "./channel.ts";
export type { ErrorFormat } from "./_traceback.ts";
export { FrameDecoderStream } from "./frame_decoder_stream.ts";
export type { FrameDecoderStreamOptions } from "./frame_decoder_stream.ts";
export { FrameEncoderStream } from "./frame_encoder_stream.ts";
export { createMemoryPair } from "./memory_pair.ts";
export { messagePortTransport } from "./message_port_transport.ts";
export { MessageDecoderStream } from "./message_decoder_stream.ts";
export { MessageEncoderStream } from "./message_encoder_stream.ts";
export { openConnection } from "./open_connection.ts";
export type { OpenConnectionOptions } from "./open_connection.ts";
export { Request } from "./request.ts";
export type { RequestOptions, Responder } from "./request.ts";
export {
  DEFAULT_HANDSHAKE_TIMEOUT,
  Server,
  startServer,
} from "./start_server.ts";
export type { ConnectionHandler, StartServerOptions } from "./start_server.ts";
export type { TraceContextCarrier, Transport } from "./transport.ts";
