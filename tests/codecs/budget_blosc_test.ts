// maxDecodedSize, MsgPackBlosc: compressed frames that expand are charged like
// MsgPack and stop decompression once over budget; numcodecs is loaded lazily
// and fails loudly.
import assert from "node:assert/strict";
import { MsgPackBloscCodec } from "../../codecs/mod.ts";
import { decompressBlosc } from "../../codecs/_blosc.ts";
import { loadCompressor } from "../../codecs/_blosc_compressor.ts";
import { msgpackCost, MsgPackCostScanner } from "../../codecs/_msgpack_cost.ts";
import { SerializationError } from "../../errors.ts";
import { compressRuns, compressSingleRun } from "./_blosc_frames.ts";
import {
  array32,
  assertCosts,
  BUDGET,
  type Decoder,
  KiB,
  MiB,
} from "./_budget_costs.ts";

const bloscDecode = (data: Uint8Array): Decoder => (maxDecodedSize) =>
  new MsgPackBloscCodec({ maxDecodedSize }).decode(data);

Deno.test("blosc: a frame that expands into empty maps is charged like MsgPack", async () => {
  const count = 16 * KiB;
  const compressor = await loadCompressor();
  const bomb = await compressor.encode(array32(count, [0x80]));
  assert.ok(bomb.length < 1024, `${bomb.length} bytes`);
  await assertCosts(56 + 64 * count, bloscDecode(bomb));
});

Deno.test("blosc: a one-block run of 4 MiB of empty maps is refused", async () => {
  const frame = compressSingleRun(
    new Uint8Array([0xdd, 0x00, 0x3f, 0xff, 0xfb]),
    0x80,
    4 * MiB,
  );
  assert.ok(frame.length < 32 * KiB);
  await assert.rejects(
    () => new MsgPackBloscCodec({ maxDecodedSize: BUDGET }).decode(frame),
    RangeError,
  );
  // Without a budget it decodes: the frame is valid.
  const value = await new MsgPackBloscCodec({ maxDecodedSize: Infinity })
    .decode(frame);
  assert.equal((value as unknown[]).length, 4 * MiB - 5);
});

Deno.test("blosc: a block beyond 16 MiB is refused when the frame must be counted", async () => {
  const frame = compressSingleRun(new Uint8Array([0xc0]), 0xc0, 16 * MiB + 1);
  await assert.rejects(
    () =>
      new MsgPackBloscCodec({
        maxDecodedSize: 64 * MiB,
        maxDecompressedSize: 64 * MiB,
      }).decode(frame),
    (error: Error) =>
      error instanceof SerializationError &&
      /block size 16777217 exceeds 16777216/.test(error.message),
  );
  // Not counted (it could not reach the budget): decompressed, and malformed.
  await assert.rejects(
    () =>
      new MsgPackBloscCodec({
        maxDecodedSize: Infinity,
        maxDecompressedSize: 64 * MiB,
      }).decode(frame),
    /16777216 bytes after the value/,
  );
  // 16 MiB is accepted.
  await assert.rejects(
    () =>
      new MsgPackBloscCodec({
        maxDecodedSize: 64 * MiB,
        maxDecompressedSize: 64 * MiB,
      }).decode(
        compressSingleRun(new Uint8Array([0xc0]), 0xc0, 16 * MiB),
      ),
    /16777215 bytes after the value/,
  );
});

Deno.test("blosc: counting stops decompression after the block that passes the budget", async () => {
  const compressor = await loadCompressor();
  // 64 blocks or so of 64 Ki empty maps each, behind array16 headers.
  const inner = [0xdc, 0xff, 0xff, ...new Array(65535).fill(0x80)];
  const data = array32(64, inner);
  const frame = await compressor.encode(data);
  const ends: number[] = [];
  assert.throws(
    () =>
      decompressBlosc(frame, Infinity, (out, end) => {
        ends.push(end);
        msgpackCost(out.subarray(0, end), BUDGET);
      }),
    RangeError,
  );
  assert.ok(ends.at(-1)! < data.length / 4, `stopped at ${ends.at(-1)}`);
  await assert.rejects(
    async () => await bloscDecode(frame)(BUDGET),
    RangeError,
  );
});

Deno.test("blosc: bytes after a whole value stop decompression at the first block", () => {
  const frame = compressRuns(0x80, 4 * MiB, MiB);
  const ends: number[] = [];
  let scanner: MsgPackCostScanner | undefined;
  assert.throws(
    () =>
      decompressBlosc(frame, Infinity, (out, end) => {
        ends.push(end);
        (scanner ??= new MsgPackCostScanner(out, BUDGET)).scan(end);
      }),
    /4194303 bytes after the value/,
  );
  assert.deepEqual(ends, [MiB]);
});

Deno.test("blosc: a declared size beyond maxDecodedSize is refused before decompressing", async () => {
  const frame = compressSingleRun(
    new Uint8Array([0xc6, 0, 0x10, 0, 0]),
    0,
    5 + MiB,
  );
  await assert.rejects(
    () => new MsgPackBloscCodec({ maxDecodedSize: MiB }).decode(frame),
    /decompresses to 1048581 bytes, more than maxDecodedSize \(1048576 units\)/,
  );
  const value = await new MsgPackBloscCodec({ maxDecodedSize: MiB + 256 })
    .decode(frame);
  assert.equal((value as Uint8Array).length, MiB);
});

Deno.test("blosc: numcodecs that cannot be loaded fails loudly, naming the codec", async () => {
  const missing = new URL("./no_such_numcodecs.js", import.meta.url).href;
  for (let i = 0; i < 2; i++) {
    // The failure is not kept: the second try imports again.
    await assert.rejects(
      () => loadCompressor(missing),
      (error: Error) =>
        error.message.startsWith(
          `MsgPackBlosc codec unavailable: cannot load numcodecs (${missing}): `,
        ) && error.cause !== undefined,
    );
  }
});

Deno.test({
  name: "importing mod.ts does not pull numcodecs into the module graph",
  ignore: (await Deno.permissions.query({ name: "run" })).state !== "granted",
  async fn() {
    for (const entry of ["mod.ts", "codecs/mod.ts"]) {
      const { stdout, success } = await new Deno.Command(Deno.execPath(), {
        args: ["info", "--json", entry],
        cwd: new URL("../..", import.meta.url),
        stdout: "piped",
        stderr: "null",
      }).output();
      assert.ok(success);
      const { modules } = JSON.parse(new TextDecoder().decode(stdout)) as {
        modules: { specifier: string }[];
      };
      const specifiers = modules.map((module) => module.specifier);
      assert.ok(
        specifiers.some((specifier) => specifier.endsWith("/json_codec.ts")),
        "not a module graph",
      );
      assert.deepEqual(
        specifiers.filter((specifier) => specifier.includes("numcodecs")),
        [],
      );
    }
  },
});
