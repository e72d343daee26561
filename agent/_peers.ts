import { codecOptionsFor } from "../channel/_codec.ts";
import { callHook } from "../channel/_hook.ts";
import type { Codec, CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";

// What a container's connections share with the rest of it: the codec of
// a connection, the labels of the references a peer sends, and telling
// the container's owner of a lost connection.

/** A new codec of class `codec` with `serializers`, in order. */
export function newCodec(
  codec: CodecClass,
  serializers: readonly SerializerSpec[],
  maxFrameSize: number | undefined,
): Codec {
  const instance = new codec(codecOptionsFor(maxFrameSize));
  for (const [type, toWire, fromWire] of serializers) {
    instance.addSerializer(type, toWire, fromWire);
  }
  return instance;
}

/**
 * How the proxies of references received from the container `container`
 * are labelled, made once for all of them (a label is made when asked).
 */
export function referenceLabel(container: string): (path: string) => string {
  return (path) => {
    const match = /^agents\/([^/]+)$/.exec(path);
    return match
      ? `AgentProxy('${container}${match[1]}')`
      : `RpcProxy('${path}')`;
  };
}

/**
 * Tells `hook` of a lost connection. What it throws is logged: it would
 * otherwise end the process as an unhandled rejection.
 */
export function report(
  hook: (error: unknown, peer: string) => void,
  error: unknown,
  peer: string,
): void {
  callHook("onConnectionLost", hook, error, peer);
}
