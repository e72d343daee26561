/**
 * Codec benchmarks: encode and decode of a small RPC request and of a ~1 KiB
 * message, JsonCodec vs MsgPackCodec vs MsgPackBloscCodec (async). The
 * baseline of each group is the engine's own `JSON.stringify` +
 * `TextEncoder` (encode) or `TextDecoder` + `JSON.parse` (decode), which
 * knows neither NaN, bigint nor serializers: what any codec would cost at
 * least in JavaScript.
 *
 * Run: deno bench bench/codecs_bench.ts
 */
import { JsonCodec, MsgPackBloscCodec, MsgPackCodec } from "../codecs/mod.ts";
import { KIB_MESSAGE, SMALL_REQUEST } from "./_messages.ts";

const json = new JsonCodec();
const msgpack = new MsgPackCodec();
const blosc = new MsgPackBloscCodec();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Load blosc's WebAssembly before measuring.
await blosc.decode(await blosc.encode(SMALL_REQUEST));

const messages = [
  { label: "small request", value: SMALL_REQUEST },
  { label: "1 KiB message", value: KIB_MESSAGE },
] as const;

// Keep results alive so that nothing is optimized away.
export let sink: unknown = null;

for (const { label, value } of messages) {
  const nativeBytes = encoder.encode(JSON.stringify(value));
  const jsonBytes = json.encode(value);
  const msgpackBytes = msgpack.encode(value);
  const bloscBytes = await blosc.encode(value);
  const sizes =
    `json ${jsonBytes.length} B, msgpack ${msgpackBytes.length} B, ` +
    `msgpackblosc ${bloscBytes.length} B`;

  const encodeGroup = `encode ${label} (${sizes})`;
  Deno.bench({
    name: `native JSON.stringify + TextEncoder (${label})`,
    group: encodeGroup,
    baseline: true,
    fn: () => {
      sink = encoder.encode(JSON.stringify(value));
    },
  });
  Deno.bench({
    name: `JsonCodec.encode (${label})`,
    group: encodeGroup,
    fn: () => {
      sink = json.encode(value);
    },
  });
  Deno.bench({
    name: `MsgPackCodec.encode (${label})`,
    group: encodeGroup,
    fn: () => {
      sink = msgpack.encode(value);
    },
  });
  Deno.bench({
    name: `MsgPackBloscCodec.encode (${label})`,
    group: encodeGroup,
    fn: async () => {
      sink = await blosc.encode(value);
    },
  });

  const decodeGroup = `decode ${label} (${sizes})`;
  Deno.bench({
    name: `native TextDecoder + JSON.parse (${label})`,
    group: decodeGroup,
    baseline: true,
    fn: () => {
      sink = JSON.parse(decoder.decode(nativeBytes));
    },
  });
  Deno.bench({
    name: `JsonCodec.decode (${label})`,
    group: decodeGroup,
    fn: () => {
      sink = json.decode(jsonBytes);
    },
  });
  Deno.bench({
    name: `MsgPackCodec.decode (${label})`,
    group: decodeGroup,
    fn: () => {
      sink = msgpack.decode(msgpackBytes);
    },
  });
  Deno.bench({
    name: `MsgPackBloscCodec.decode (${label})`,
    group: decodeGroup,
    fn: async () => {
      sink = await blosc.decode(bloscBytes);
    },
  });
}
