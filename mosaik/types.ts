/**
 * The data mosaik and a simulator exchange (mosaik API 3), typed. Field
 * names are mosaik's wire names (`api_version`, `extra_methods`,
 * `any_inputs`), so that the meta reads as in mosaik's documentation.
 *
 * @module
 */

/** A simulation time: an integer in the scenario's time unit. */
export type Time = number;

/** A simulator's id, as mosaik names it, e.g. `"ExampleSim-0"`. */
export type SimId = string;

/** A model's name, a key of {@linkcode Meta.models}, e.g. `"ExampleModel"`. */
export type ModelName = string;

/** An entity's id within its simulator, e.g. `"Model_0"`. */
export type EntityId = string;

/** An entity's id within the whole scenario: `"<sid>.<eid>"`, e.g. `"ExampleSim-0.Model_0"`. */
export type FullId = string;

/** An attribute's name, e.g. `"val"`. */
export type Attr = string;

/**
 * How mosaik advances a simulator: at the times it returns from `step`
 * (`"time-based"`), when its inputs change (`"event-based"`), or both
 * (`"hybrid"`).
 */
export type SimulatorType = "time-based" | "event-based" | "hybrid";

/** One model in {@linkcode Meta.models}. */
export interface ModelMeta {
  /** Whether a scenario may create it (`false`: only as a child of another entity). */
  public: boolean;
  /** The names of the parameters `create` accepts for it. */
  params: readonly string[];
  /** The attributes that can be read or connected. */
  attrs: readonly Attr[];
  /** Whether attributes not in `attrs` may be connected to it. */
  any_inputs?: boolean;
  /**
   * Inputs that make mosaik step the simulator (a list: mosaik 3.3 refuses
   * `true` at `world.start`).
   */
  trigger?: readonly Attr[];
  /** Inputs that do not make mosaik step the simulator (the other form of `trigger`). */
  "non-trigger"?: readonly Attr[];
  /** Outputs that keep their value between steps (a list, as `trigger`). */
  persistent?: readonly Attr[];
  /** Outputs that do not keep their value (the other form of `persistent`). */
  "non-persistent"?: readonly Attr[];
}

/**
 * A simulator's meta data: what `init` returns to mosaik.
 *
 * @example
 * ```ts
 * import type { Meta } from "@aiomas/aiomas/mosaik";
 *
 * const meta: Meta = {
 *   api_version: "3.0",
 *   type: "hybrid",
 *   models: {
 *     ExampleModel: { public: true, params: ["init_val"], attrs: ["delta", "val"], trigger: ["delta"] },
 *   },
 *   extra_methods: [],
 * };
 * ```
 */
export interface Meta {
  /** The mosaik API version the simulator implements, `"3.0"` here. */
  api_version: string;
  /** How mosaik advances the simulator. */
  type: SimulatorType;
  /** The models by name. */
  models: Readonly<Record<ModelName, ModelMeta>>;
  /** Methods mosaik may call besides the API calls, by their names on the simulator. */
  extra_methods?: readonly string[];
  /** Whether the simulator may set events (`this.mosaik.setEvent`). */
  set_events?: boolean;
}

/**
 * What a simulator's constructor takes: a {@linkcode Meta} whose
 * `api_version` (default `"3.0"`), `type` (default `"time-based"`) and
 * `extra_methods` (default `[]`) may be left out, as in mosaik-api-python.
 */
export interface MetaInit {
  /** The mosaik API version. @default {"3.0"} */
  api_version?: string;
  /** How mosaik advances the simulator. @default {"time-based"} */
  type?: SimulatorType;
  /** The models by name. */
  models: Readonly<Record<ModelName, ModelMeta>>;
  /** Methods mosaik may call besides the API calls. @default {[]} */
  extra_methods?: readonly string[];
  /** Whether the simulator may set events (`this.mosaik.setEvent`). */
  set_events?: boolean;
}

/**
 * One entity `create` made, with its children: the list `create` returns
 * has one of these per entity asked for.
 */
export interface CreateResult {
  /** Its id, unique within the simulator. */
  eid: EntityId;
  /** Its model (for the entities of the returned list: the model asked for). */
  type: ModelName;
  /** Entities of this simulator it is related to. */
  rel?: readonly EntityId[];
  /** Entities it contains (of any model in the meta). */
  children?: readonly CreateResult[];
  /** Anything else the scenario may read about it. */
  extra_info?: Readonly<Record<string, unknown>>;
}

/**
 * A step's inputs: for each of the simulator's entities, each attribute's
 * values by the full id of the entity that sent them:
 * `{dest_eid: {attr: {src_full_id: value}}}`.
 */
export type InputData = Record<EntityId, Record<Attr, Record<FullId, unknown>>>;

/** What `getData` is asked for: `{eid: [attr, ...]}` (an attribute may be listed twice). */
export type OutputRequest = Record<EntityId, readonly Attr[]>;

/**
 * What `getData` returns: `{eid: {attr: value}}`, and, for event-based and
 * hybrid simulators, the `time` the outputs are valid at (default: the time
 * of the last step).
 */
export interface OutputData {
  /** The time of these outputs. */
  time?: Time;
  /** The requested attributes' values by entity. */
  [eid: EntityId]: Record<Attr, unknown> | Time | undefined;
}

/** An entity as mosaik describes it to a simulator: its simulator and model. */
export interface EntitySpec {
  /** The simulator it belongs to. */
  sid: SimId;
  /** Its model. */
  type: ModelName;
}

/** The scenario's entity graph: `getRelatedEntities()` without ids. */
export interface EntityGraph {
  /** Every entity, by full id. */
  nodes: Record<FullId, EntitySpec>;
  /** The connections between entities: `[from, to, edge data]`. */
  edges: [FullId, FullId, Record<string, unknown>][];
}
