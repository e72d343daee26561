// Every case of tests/fixtures/codec.json (bytes captured from aiomas 2.0.1):
// decode the payload, and encode the value and decode it again.
import assert from "node:assert/strict";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  serializable,
} from "../../codecs/mod.ts";
import type { Codec } from "../../codecs/mod.ts";
import {
  addTagEchoes,
  fromNotation,
  hex,
  loadVectors,
  maxTypeid,
  nonFinite,
  unhex,
  type Vector,
} from "./_vectors.ts";

const vectors = await loadVectors();
const byCodec = (codec: Vector["codec"]): Vector[] =>
  vectors.filter((v) => v.codec === codec);
const msgpackByName = new Map(byCodec("msgpack").map((v) => [v.name, v]));

const CODECS: Record<Vector["codec"], new () => Codec> = {
  json: JsonCodec,
  msgpack: MsgPackCodec,
  msgpackblosc: MsgPackBloscCodec,
};

/** A fresh codec of the case's kind that echoes every typeid the case uses. */
function codecFor(vector: Vector): Codec {
  const codec = new CODECS[vector.codec]();
  addTagEchoes(codec, maxTypeid(vector.value) + 1);
  return codec;
}

class Point {
  constructor(public x: number, public y: number) {}
}

Deno.test("vectors: the fixture has the cases the README lists", () => {
  assert.equal(vectors.length, 227);
  assert.equal(byCodec("json").length, 70);
  assert.equal(byCodec("msgpack").length, 75);
  assert.equal(byCodec("msgpackblosc").length, 82);
  const flags = new Set(byCodec("msgpackblosc").map((v) => v.blosc?.flags));
  assert.deepEqual([...flags].sort(), ["0x01", "0x03", "0x11", "0x13"]);
});

for (const kind of ["json", "msgpack", "msgpackblosc"] as const) {
  Deno.test(`vectors: ${kind}: decoding aiomas bytes gives the value`, async (t) => {
    for (const vector of byCodec(kind)) {
      await t.step(vector.name, async () => {
        const decoded = await codecFor(vector).decode(
          unhex(vector.payload_hex),
        );
        assert.deepStrictEqual(decoded, fromNotation(vector.value));
      });
    }
  });

  Deno.test(`vectors: ${kind}: encoding the value decodes to the value`, async (t) => {
    for (const vector of byCodec(kind)) {
      await t.step(vector.name, async () => {
        const codec = codecFor(vector);
        const bytes = await codec.encode(fromNotation(vector.value, true));
        assert.deepStrictEqual(
          await codec.decode(bytes),
          fromNotation(vector.value),
        );
      });
    }
  });
}

Deno.test("vectors: json: non-finite floats go out as bare NaN / Infinity / -Infinity", async (t) => {
  for (const vector of byCodec("json")) {
    const specials = nonFinite(fromNotation(vector.value));
    if (specials.length === 0) continue;
    await t.step(vector.name, () => {
      const text = new TextDecoder().decode(
        codecFor(vector).encode(fromNotation(vector.value, true)) as Uint8Array,
      );
      const outsideStrings = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
      for (const special of specials) {
        const token = String(special); // "NaN", "Infinity", "-Infinity"
        assert.match(
          outsideStrings,
          new RegExp(`(^|[\\[,:\\s])${token}([\\],}\\s]|$)`),
        );
      }
    });
  }
});

Deno.test("vectors: json: integral and negative-zero floats keep a float form", async (t) => {
  for (const vector of byCodec("json")) {
    if (!JSON.stringify(vector.value).includes('"$float"')) continue;
    await t.step(vector.name, () => {
      const text = new TextDecoder().decode(
        codecFor(vector).encode(fromNotation(vector.value, true)) as Uint8Array,
      );
      // The content is the one float: it must not look like an integer.
      const content = text.slice(text.lastIndexOf(",") + 1, -1);
      assert.match(content, /^(NaN|-?Infinity|-?\d+(\.\d+)?(e[+-]?\d+)?)$/);
      assert.ok(!/^-?\d+$/.test(content), `${content} reads as an integer`);
    });
  }
});

Deno.test("vectors: msgpack: our bytes are identical to aiomas's", async (t) => {
  for (const vector of byCodec("msgpack")) {
    await t.step(vector.name, () => {
      const bytes = codecFor(vector).encode(
        fromNotation(vector.value, true),
      ) as Uint8Array;
      assert.equal(hex(bytes), vector.payload_hex);
    });
  }
});

Deno.test("vectors: msgpackblosc: frames are valid and carry aiomas's msgpack bytes", async (t) => {
  for (const vector of byCodec("msgpackblosc")) {
    await t.step(vector.name, async () => {
      const value = fromNotation(vector.value, true);
      const inner = new MsgPackCodec().encode(value) as Uint8Array;
      // The inner msgpack has the size aiomas's header announces ...
      assert.equal(inner.length, vector.blosc?.nbytes);
      // ... and the same bytes, where the vector shows them.
      const payload = unhex(vector.payload_hex);
      if (payload[2] & 0x02) {
        assert.equal(hex(inner), hex(payload.subarray(16)));
      }
      const twin = msgpackByName.get(vector.name);
      if (twin) assert.equal(hex(inner), twin.payload_hex);
      // Our frame is a c-blosc 1.x frame around exactly those bytes.
      const frame = await codecFor(vector).encode(value);
      const view = new DataView(
        frame.buffer,
        frame.byteOffset,
        frame.byteLength,
      );
      assert.equal(frame[0], 2, "blosc format version");
      assert.equal(view.getUint32(4, true), inner.length, "nbytes");
      assert.equal(view.getUint32(12, true), frame.length, "cbytes");
      if (frame[2] & 0x02) {
        assert.equal(hex(frame.subarray(16)), hex(inner), "memcpy frame body");
      }
    });
  }
});

Deno.test("vectors: serializable Point decodes to a Point and encodes to aiomas's bytes", async (t) => {
  for (const vector of vectors.filter((v) => v.name === "serializable-point")) {
    await t.step(vector.codec, async () => {
      const codec = new CODECS[vector.codec]();
      assert.equal(codec.addSerializer(...serializable(Point, ["x", "y"])), 0);
      const decoded = await codec.decode(unhex(vector.payload_hex));
      assert.deepStrictEqual(decoded, [1, 0, new Point(1, 2)]);
      assert.ok((decoded as unknown[])[2] instanceof Point);

      const bytes = await codec.encode([1, 0, new Point(1, 2)]);
      assert.deepStrictEqual(await codec.decode(bytes), [
        1,
        0,
        new Point(1, 2),
      ]);
      assert.deepStrictEqual(
        await codecFor(vector).decode(bytes),
        fromNotation(vector.value),
      );
      if (vector.codec === "msgpack") {
        assert.equal(hex(bytes), vector.payload_hex);
      }
    });
  }
});
