import type { Codec, CodecClass } from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import { MsgPackBloscCodec } from "../codecs/msgpack_blosc_codec.ts";
import { MsgPackCodec } from "../codecs/msgpack_codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { SerializationError } from "../errors.ts";
import { referencePath } from "../rpc/_proxy.ts";
import { usesEncodeView } from "../channel/_codec_use.ts";

/**
 * What a value becomes when it crosses a connection, without the socket:
 * calls between agents of one container encode their arguments and results
 * with the container's codec and serializers and decode them again, so
 * they give the same values and fail with the same errors as across a
 * connection. Arguments are encoded as `[[args]]` and results as
 * `[result]`: at the depth where a channel's messages hold them
 * (`[0, id, [path, args, kwargs]]`, `[1, id, result]`), so that nesting
 * limits count the same.
 *
 * Agent references travel as their path, as over a connection; a proxy of
 * another container's agent cannot be passed (it works only on its own
 * connection).
 *
 * With the built-in codecs, values that every one of them gives back
 * unchanged skip the round trip (see {@linkcode isUnchanged}): the common
 * call with a few numbers costs no encoding.
 */
export class LocalWire {
  #codec: Codec;
  #encodeView: boolean;
  /** Whether the codec is a built-in one, which gives plain values back unchanged. */
  #builtIn: boolean;
  /** Whether a value is being decoded from the codec's reused buffer. */
  #decoding = false;

  /**
   * @param codecClass The container's codec. Blosc compression is lossless,
   *   so MsgPackBlosc values take the MsgPack round trip without it.
   * @param serializers The container's serializers, in order.
   * @param pathOf The path of an agent of this container (or of its local
   *   proxy), if `value` is one.
   * @param proxyOf The local proxy for the path of an agent reference.
   */
  constructor(
    codecClass: CodecClass,
    serializers: readonly SerializerSpec[],
    pathOf: (value: object) => string | undefined,
    proxyOf: (path: string) => object,
  ) {
    const codec = codecClass === MsgPackBloscCodec
      ? new MsgPackCodec()
      : new codecClass();
    for (const [type, toWire, fromWire] of serializers) {
      codec.addSerializer(type, toWire, fromWire);
    }
    // The same fallback, with the same errors, as an RpcClient registers.
    codec.addSerializer(
      Object,
      (value: object) => referencePath(pathOf(value), value),
      (path: unknown) => {
        if (typeof path !== "string") {
          throw new SerializationError(
            "Cannot decode a service reference: the path is not a string",
          );
        }
        return proxyOf(path);
      },
    );
    this.#codec = codec;
    this.#encodeView = usesEncodeView(codec);
    this.#builtIn = codecClass === JsonCodec || codecClass === MsgPackCodec ||
      codecClass === MsgPackBloscCodec;
  }

  /**
   * The arguments of a call as the callee receives them.
   *
   * @throws {SerializationError} If they cannot be encoded (the caller's error).
   */
  args(args: unknown[]): unknown[] | Promise<unknown[]> {
    if (this.#builtIn && allUnchanged(args)) return args;
    const message = this.#roundTrip([[args]]);
    return message instanceof Promise
      ? message.then((decoded) => argsOf(decoded))
      : argsOf(message);
  }

  /**
   * A result as the caller receives it.
   *
   * @throws {SerializationError} If it cannot be encoded (the callee's error).
   */
  result(value: unknown): unknown {
    if (this.#builtIn && isUnchanged(value)) return value;
    const message = this.#roundTrip([value]);
    return message instanceof Promise
      ? message.then((decoded) => (decoded as unknown[])[0])
      : (message as unknown[])[0];
  }

  #roundTrip(message: unknown): unknown {
    // A reused buffer is decoded at once; not while another value is
    // decoded from it (a serializer's fromWire may make a local call).
    const bytes = this.#encodeView && !this.#decoding
      ? this.#codec.encodeView!(message)
      : this.#codec.encode(message);
    if (bytes instanceof Promise) {
      return bytes.then((data) => this.#codec.decode(data));
    }
    this.#decoding = true;
    try {
      return this.#codec.decode(bytes);
    } finally {
      this.#decoding = false;
    }
  }
}

/**
 * Whether the built-in codecs give `value` back as it is: booleans, null,
 * safe integers, other numbers except integers beyond 2^53 (which may come
 * back as bigint), and short strings without surrogates (MsgPack cannot
 * encode a lone one). Everything else takes the round trip.
 */
function isUnchanged(value: unknown): boolean {
  switch (typeof value) {
    case "number":
      return Number.isSafeInteger(value) || !Number.isInteger(value);
    case "boolean":
      return true;
    case "string": {
      if (value.length > SHORT_STRING) return false;
      for (let i = 0; i < value.length; i++) {
        const unit = value.charCodeAt(i);
        if (unit >= 0xd800 && unit <= 0xdfff) return false;
      }
      return true;
    }
    default:
      return value === null;
  }
}

/** Strings up to this length are checked by {@linkcode isUnchanged}. */
const SHORT_STRING = 64;

function allUnchanged(args: unknown[]): boolean {
  for (let i = 0; i < args.length; i++) {
    if (!isUnchanged(args[i])) return false;
  }
  return true;
}

function argsOf(message: unknown): unknown[] {
  return ((message as unknown[])[0] as unknown[])[0] as unknown[];
}
