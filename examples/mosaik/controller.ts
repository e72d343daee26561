/**
 * An event-based controller that works through mosaik's async requests: at
 * each of its steps, every `Agent` asks mosaik which entities it is
 * connected to (`getRelatedEntities`), reads their `val` (`getData`) and,
 * when `val` leaves -3..3, turns their `delta` around (`setData`): the
 * tutorial's ExampleCtrl, pulling the values instead of getting them as
 * inputs.
 *
 * A scenario with the example simulator:
 *
 *     sim_config = {
 *         "ExampleSim": {"cmd": "deno run --allow-net examples/mosaik/example_sim.ts %(addr)s"},
 *         "Controller": {"cmd": "deno run --allow-net examples/mosaik/controller.ts %(addr)s"},
 *     }
 *     world = mosaik.World(sim_config)
 *     models = world.start("ExampleSim").ExampleModel.create(3, init_val=0)
 *     agents = world.start("Controller", step_size=1).Agent.create(3)
 *     for model, agent in zip(models, agents):
 *         world.connect(model, agent, async_requests=True)
 *     # An event-based simulator is stepped only when something triggers
 *     # it; no input does here, so it needs a first step (then it asks for
 *     # the next ones itself).
 *     world.set_initial_event(agents[0].sid)
 *     world.run(until=10)
 *
 * @module
 */
import {
  type CreateResult,
  type Meta,
  type OutputData,
  type OutputRequest,
  Simulator,
  startSimulation,
} from "../../mosaik/mod.ts";

/** The model whose entities the agents control. */
const CONTROLLED = "ExampleModel";

/** Agents that keep `val` of the entities connected to them within -3..3. */
export class Controller extends Simulator {
  /** The last `delta` each agent set, by agent id. */
  readonly deltas: Map<string, number | null> = new Map();
  #sid = "";
  #stepSize = 1;
  #time = 0;

  /** A controller with one model, `Agent`. */
  constructor() {
    super({
      type: "event-based",
      models: { Agent: { public: true, params: [], attrs: ["delta"] } },
    });
  }

  /** Takes `step_size` (default 1): how often the agents look. */
  override init(
    sid: string,
    _timeResolution: number,
    { step_size = 1 }: { step_size?: unknown },
  ): Meta {
    if (!Number.isSafeInteger(step_size) || (step_size as number) < 1) {
      throw new RangeError(`step_size must be a positive integer`);
    }
    this.#sid = sid;
    this.#stepSize = step_size as number;
    return this.meta;
  }

  /** Creates `num` agents `Agent_<n>`. */
  create(num: number, model: string): CreateResult[] {
    const created: CreateResult[] = [];
    for (let i = 0; i < num; i++) {
      const eid = `Agent_${this.deltas.size}`;
      this.deltas.set(eid, null);
      created.push({ eid, type: model });
    }
    return created;
  }

  /** Every agent reads its entities' `val` and sets their `delta` when needed. */
  async step(time: number): Promise<number> {
    this.#time = time;
    for (const agent of this.deltas.keys()) {
      const self = `${this.#sid}.${agent}`;
      const related = await this.mosaik.getRelatedEntities(self);
      const targets = Object.keys(related).filter((id) =>
        related[id].type === CONTROLLED
      );
      if (targets.length === 0) continue;
      const values = await this.mosaik.getData(
        Object.fromEntries(targets.map((id) => [id, ["val"]])),
      );
      const changes: Record<string, { delta: number }> = {};
      for (const id of targets) {
        const val = values[id]?.val;
        if (typeof val !== "number") continue;
        const delta = val >= 3 ? -1 : val <= -3 ? 1 : null;
        if (delta === null) continue;
        changes[id] = { delta };
        this.deltas.set(agent, delta);
      }
      if (Object.keys(changes).length > 0) {
        await this.mosaik.setData({ [self]: changes });
      }
    }
    return time + this.#stepSize;
  }

  /** Each agent's last `delta` (null before it set one). */
  getData(outputs: OutputRequest): OutputData {
    const data: OutputData = { time: this.#time };
    for (const agent of Object.keys(outputs)) {
      if (!this.deltas.has(agent)) {
        throw new RangeError(`Unknown entity: ${agent}`);
      }
      data[agent] = { delta: this.deltas.get(agent) };
    }
    return data;
  }
}

if (import.meta.main) await startSimulation(new Controller());
