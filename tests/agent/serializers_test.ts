// Serializers reach containers made in Workers and processes: named by a
// module spec there, checked against the parent's.
import assert from "node:assert/strict";
import {
  Container,
  type DynamicRemote,
  startContainerProcess,
  startContainerWorker,
} from "../../agent/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { Pt, serializers } from "./_types.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 };
const TYPES = new URL("./_types.ts", import.meta.url).href;

/** Spawns a Mover and checks that Pt travels both ways. */
async function roundTripsPt(
  manager: { spawn(spec: string): Promise<unknown> },
): Promise<void> {
  const [mover] = await manager.spawn(`${TYPES}#Mover`) as [
    DynamicRemote,
    string,
  ];
  const moved = await mover.move(new Pt(1, 2), 3);
  assert.ok(moved instanceof Pt, `not a Pt: ${Deno.inspect(moved)}`);
  assert.deepEqual(moved, new Pt(4, 2));
  assert.equal(await mover.isPt(new Pt(0, 0)), true);
}

Deno.test("startContainerWorker: serializers by module spec, a custom type round-trips", async () => {
  await using parent = await Container.create(LOCAL, { serializers });
  await using worker = await startContainerWorker({
    container: parent,
    serializers: `${TYPES}#serializers`,
  });
  await roundTripsPt(worker.manager);
});

Deno.test("startContainerWorker: a relative serializers spec is resolved from base", async () => {
  await using parent = await Container.create(LOCAL, {
    codec: MsgPackCodec,
    serializers,
  });
  await using worker = await startContainerWorker({
    container: parent,
    codec: MsgPackCodec,
    base: new URL("./", import.meta.url).href,
    serializers: "./_types.ts#serializers",
  });
  await roundTripsPt(worker.manager);
});

Deno.test("startContainerWorker: serializers that differ from the parent's are a TypeError", async () => {
  await using parent = await Container.create(LOCAL, { serializers });
  await assert.rejects(
    startContainerWorker({ container: parent }),
    (error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, /other serializers \(none\)/);
      assert.match(error.message, /than this container \(Pt\)/);
      assert.match(error.message, /serializers: "<module>#<export>"/);
      return true;
    },
  );
  await using plain = await Container.create(LOCAL);
  await assert.rejects(
    startContainerWorker({
      container: plain,
      serializers: `${TYPES}#serializers`,
    }),
    { name: "TypeError", message: /other serializers \(Pt\)/ },
  );
  await assert.rejects(
    startContainerWorker({
      container: parent,
      serializers: `${TYPES}#notSerializers`,
    }),
    { message: /not an array of \[type, toWire, fromWire\]/ },
  );
  await assert.rejects(
    startContainerWorker({ container: parent, serializers: "no-hash.ts" }),
    { message: /expected "<module>#<ExportName>"/ },
  );
  // The parent still works with a worker that matches.
  await using worker = await startContainerWorker({
    container: parent,
    serializers: `${TYPES}#serializers`,
  });
  await roundTripsPt(worker.manager);
});

Deno.test("startContainerProcess: serializers by module spec, a custom type round-trips", async () => {
  await using parent = await Container.create(LOCAL, {
    codec: MsgPackCodec,
    serializers,
  });
  await using child = await startContainerProcess({
    container: parent,
    codec: MsgPackCodec,
    serializers: `${TYPES}#serializers`,
  });
  await roundTripsPt(child.manager);
  const status = await child.stop();
  assert.equal(status.code, 0);
});

Deno.test("startContainerProcess: serializers that differ from the parent's are a TypeError", async () => {
  await using parent = await Container.create(LOCAL, { serializers });
  await assert.rejects(
    startContainerProcess({ container: parent }),
    { name: "TypeError", message: /other serializers \(none\)/ },
  );
});
