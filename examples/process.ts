/**
 * A container in a subprocess (`cli.ts` under `deno run`): the main
 * container starts it, its manager spawns an agent from this module, and
 * the agents call each other over TCP; a custom type travels both ways
 * because both containers register the same serializers.
 *
 * Run: deno run --allow-net --allow-run examples/process.ts
 *
 * (`--allow-run` starts the subprocess, `--allow-net` is for the TCP
 * connection between the containers. The subprocess gets its own
 * permissions, by default `--allow-net --allow-read`: see
 * `StartContainerProcessOptions.permissions`.)
 */
import {
  Agent,
  Container,
  expose,
  serializable,
  startContainerProcess,
} from "../mod.ts";

/** A value that needs a serializer to travel. */
export class Point {
  constructor(public x: number, public y: number) {}
}

/** Both containers register these, in this order. */
export const serializers = [serializable(Point, ["x", "y"])];

/** The agent the subprocess runs. */
export class Mover extends Agent {
  @expose
  move(p: Point, dx: number, dy: number): Point {
    return new Point(p.x + dx, p.y + dy);
  }

  @expose
  pid(): number {
    return Deno.pid;
  }
}

if (import.meta.main) {
  await using container = await Container.create("127.0.0.1:0", {
    serializers,
    callTimeout: 5_000,
  });
  await using child = await startContainerProcess({
    container,
    // The subprocess imports the same serializers from this module.
    serializers: `${import.meta.url}#serializers`,
    allowSpawn: [new URL("./", import.meta.url).href],
  });
  const [, addr] = await child.manager.spawn(`${import.meta.url}#Mover`);
  const mover = await container.connect<Mover>(addr);
  console.log(`${mover} runs in process ${await mover.pid()}, not ${Deno.pid}`);
  const moved = await mover.move(new Point(1, 2), 3, 4);
  console.log("moved:", moved, "a Point again:", moved instanceof Point);
  // Leaving the block stops the subprocess (its manager's stop()), then
  // shuts the container down.
}
