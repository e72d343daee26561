// MsgPackCodec objects and Maps (undefined fields, keys, order, __proto__),
// custom types through __type__ and re-entrant serializers, and encodeView.
import assert from "node:assert/strict";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { decode, encode } from "./_msgpack_codec_hex.ts";
import { unhex } from "./_vectors.ts";

Deno.test("msgpack: undefined is nil, and object fields that are undefined are left out", () => {
  assert.equal(encode(undefined), "c0");
  assert.equal(encode([undefined, null]), "92c0c0");
  assert.equal(encode({ a: undefined, b: 1 }), "81a16201");
});

Deno.test("msgpack: Maps with integer keys stay Maps; string-keyed maps are objects", () => {
  const map = new Map<unknown, unknown>([[1, "a"], [2, "b"], [-1, "c"], [
    300,
    "d",
  ]]);
  assert.equal(encode(map), "8401a16102a162ffa163cd012ca164");
  assert.deepStrictEqual(decode("8401a16102a162ffa163cd012ca164"), map);
  const mixed = new Map<unknown, unknown>([["a", 1], [2, "b"], [1.5, true], [
    2n ** 60n,
    null,
  ]]);
  assert.deepStrictEqual(
    new MsgPackCodec().decode(new MsgPackCodec().encode(mixed) as Uint8Array),
    mixed,
  );
  assert.deepStrictEqual(decode("82a16101a16202"), { a: 1, b: 2 });
  assert.deepStrictEqual(
    new MsgPackCodec().decode(
      new MsgPackCodec().encode(new Map([["a", 1]])) as Uint8Array,
    ),
    {
      a: 1,
    },
  );
  // Integer keys are not turned into strings.
  const decoded = decode("8101a161") as Map<unknown, unknown>;
  assert.ok(decoded instanceof Map);
  assert.equal(decoded.get(1), "a");
  assert.equal(decoded.get("1"), undefined);
});

Deno.test("msgpack: object key order is kept", () => {
  const bytes = encode({ b: 1, a: 2, c: 3 });
  assert.equal(bytes, "83a16201a16102a16303");
  assert.deepStrictEqual(Object.keys(decode(bytes) as object), ["b", "a", "c"]);
});

Deno.test("msgpack: a __proto__ key stays data", () => {
  // {"__proto__": {"polluted": 1}, "a": 1}
  const value = decode(
    "82a95f5f70726f746f5f5f81a8706f6c6c75746564" + "01a16101",
  ) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.ok(Object.hasOwn(value, "__proto__"));
  assert.deepStrictEqual(
    Object.getOwnPropertyDescriptor(value, "__proto__")?.value,
    { polluted: 1 },
  );
  assert.equal((value as { polluted?: unknown }).polluted, undefined);
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  assert.equal(value.a, 1);
  // It encodes back as a key.
  assert.equal(
    encode(value),
    "82a95f5f70726f746f5f5f81a8706f6c6c75746564" + "01a16101",
  );
});

Deno.test("msgpack: a serializer may encode with the same codec while encoding", () => {
  class Inner {
    constructor(public value: unknown) {}
  }
  const codec = new MsgPackCodec();
  codec.addSerializer(
    Inner,
    (inner) => codec.encode(inner.value),
    (data) => new Inner(codec.decode(data as Uint8Array)),
  );
  const value = [1, 0, new Inner([new Inner("x"), 2])];
  assert.deepStrictEqual(
    codec.decode(codec.encode(value) as Uint8Array),
    value,
  );
});

Deno.test("msgpack: a __type__ key is resolved in maps with other keys too", () => {
  const codec = new MsgPackCodec();
  codec.addSerializer(class Tag {}, () => null, (data) => ({ tag: data }));
  // {"__type__": [0, "x"], 1: 2}: Python's object_hook sees every map.
  assert.deepStrictEqual(
    codec.decode(unhex("82a85f5f747970655f5f9200a178" + "0102")),
    { tag: "x" },
  );
  assert.deepStrictEqual(
    codec.decode(unhex("82a85f5f747970655f5f9200a178" + "a16102")),
    { tag: "x" },
  );
});

Deno.test("msgpack: encodeView gives encode's bytes in a buffer reused by the next call", () => {
  const codec = new MsgPackCodec();
  const first = codec.encodeView([0, 1, "first"]);
  assert.deepEqual(first, codec.encode([0, 1, "first"]));
  const copy = first.slice();
  const second = codec.encodeView([0, 2, "second!"]);
  assert.deepEqual(second, codec.encode([0, 2, "second!"]));
  assert.equal(first.buffer, second.buffer, "the buffer is reused");
  assert.deepEqual(codec.decode(copy), [0, 1, "first"]);
});

Deno.test("msgpack: a serializer may encode with the same codec while encodeView runs", () => {
  class Inner {
    constructor(public value: unknown) {}
  }
  const codec = new MsgPackCodec();
  codec.addSerializer(
    Inner,
    (inner) => codec.encodeView(inner.value).slice(),
    (data) => new Inner(codec.decode(data as Uint8Array)),
  );
  const value = [1, 0, new Inner([new Inner("x"), 2])];
  const bytes = codec.encodeView(value).slice();
  assert.deepEqual(bytes, codec.encode(value));
  assert.deepStrictEqual(codec.decode(bytes), value);
});

Deno.test("msgpack: keys Object.prototype has decode as data also when it is frozen (in a process of its own)", async () => {
  const codecs = new URL("../../codecs/mod.ts", import.meta.url).href;
  const script = `
    import { MsgPackCodec } from ${JSON.stringify(codecs)};
    Object.freeze(Object.prototype);
    const codec = new MsgPackCodec();
    const value = codec.decode(codec.encode({ constructor: 1, toString: "x", a: 2 }));
    console.log(JSON.stringify(value));
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr));
  assert.equal(
    decoder.decode(stdout),
    '{"constructor":1,"toString":"x","a":2}\n',
  );
});

Deno.test("msgpack: a container that changes while it is encoded never makes a header that miscounts its entries", () => {
  const codec = new MsgPackCodec();
  // A lazy getter: undefined when counted, a value when written.
  let reads = 0;
  const lazy = {
    get x() {
      return reads++ === 0 ? undefined : 1;
    },
  };
  assert.throws(
    () => codec.encode([lazy]),
    /an object changed its entries while it was being encoded/,
  );
  // A serializer that adds to the array, or to the Map, it is inside of.
  class Grow {
    constructor(readonly into: unknown[] | Map<unknown, unknown>) {}
  }
  codec.addSerializer(Grow, (grow) => {
    const into = (grow as Grow).into;
    if (Array.isArray(into)) into.push(2);
    else into.set(into.size, 2);
    return null;
  }, () => null);
  const array: unknown[] = [];
  array.push(new Grow(array));
  // The entries counted are the entries written: the frame decodes.
  assert.deepEqual(codec.decode(codec.encode(array)), [null]);
  const map = new Map<unknown, unknown>();
  map.set(0, new Grow(map));
  assert.throws(
    () => codec.encode(map),
    /a Map changed its entries while it was being encoded/,
  );
  // The codec encodes on afterwards.
  assert.deepEqual(codec.decode(codec.encode({ a: [1] })), { a: [1] });
});
