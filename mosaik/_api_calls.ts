// mosaik's calls as the simulator's methods: arguments checked as
// mosaik's Python API takes them, extra methods bound by their params.
import { clipPeerText, formatPeerValue } from "../channel/_message.ts";
import { LookupError } from "../errors.ts";
import { exposedInfo } from "../rpc/expose.ts";
import { bindArguments } from "../rpc/_call_content.ts";
import type { Simulator } from "./simulator.ts";
import type { InputData, Meta, OutputRequest } from "./types.ts";

type Kwargs = Record<string, unknown>;
type Call = (sim: Simulator, args: unknown[], kwargs: Kwargs) => unknown;

/**
 * mosaik's calls by wire name: the one place where snake_case becomes the
 * simulator's camelCase methods and positional/keyword arguments become
 * parameters.
 */
const API_CALLS: Readonly<Record<string, Call>> = {
  init(sim, args, kwargs) {
    const [sid, ...rest] = args;
    if (typeof sid !== "string" || rest.length > 1) {
      throw new TypeError("init() takes the simulator id as its one argument");
    }
    const { time_resolution: given, ...simParams } = kwargs;
    const timeResolution = rest.length === 1 ? rest[0] : given ?? 1;
    if (typeof timeResolution !== "number") {
      throw new TypeError(
        `init() got time_resolution ${
          formatPeerValue(timeResolution)
        }; it must be a number`,
      );
    }
    if (!(Number.isFinite(timeResolution) && timeResolution > 0)) {
      throw new RangeError(
        `init() got time_resolution ${timeResolution}; it must be a finite number of seconds above 0`,
      );
    }
    sim.timeResolution = timeResolution;
    return sim.init(sid, timeResolution, simParams);
  },
  create(sim, args, kwargs) {
    const [num, model] = args;
    if (
      !Number.isSafeInteger(num) || typeof model !== "string" ||
      args.length > 2
    ) {
      throw new TypeError("create() takes (num: integer, model: string)");
    }
    if ((num as number) < 0) {
      throw new RangeError(
        `create() got num ${num}; it must be a number of entities from 0 up`,
      );
    }
    return sim.create(num as number, model, kwargs);
  },
  setup_done(sim, args, kwargs) {
    noArguments("setup_done", args, kwargs);
    return sim.setupDone();
  },
  step(sim, args, kwargs) {
    const [time, inputs, maxAdvance] = args;
    if (
      typeof time !== "number" || !isObject(inputs) ||
      (maxAdvance !== undefined && typeof maxAdvance !== "number" &&
        typeof maxAdvance !== "bigint") ||
      args.length > 3 || Object.keys(kwargs).length > 0
    ) {
      throw new TypeError(
        "step() takes (time: number, inputs: object, max_advance: number)",
      );
    }
    checkTime("time", time, 0);
    return sim.step(
      time,
      inputs as InputData,
      maxAdvance === undefined ? time : checkMaxAdvance(maxAdvance),
    );
  },
  get_data(sim, args, kwargs) {
    const [outputs] = args;
    if (
      !isObject(outputs) || args.length > 1 || Object.keys(kwargs).length > 0
    ) {
      throw new TypeError("get_data() takes (outputs: {eid: [attr, ...]})");
    }
    return sim.getData(outputs as OutputRequest);
  },
};

/** Calls the simulator method that mosaik's call `name` stands for. */
export function callSimulator(
  simulator: Simulator,
  meta: Meta,
  name: string,
  args: unknown[],
  kwargs: Kwargs,
): unknown {
  const apiCall = Object.hasOwn(API_CALLS, name) ? API_CALLS[name] : undefined;
  if (apiCall !== undefined) return apiCall(simulator, args, kwargs);
  if (!(meta.extra_methods ?? []).includes(name)) {
    throw new LookupError(
      `${simulator.constructor.name} has no method "${
        clipPeerText(name)
      }" (not an API call and not in meta.extra_methods)`,
    );
  }
  const fn = (simulator as unknown as Record<string, unknown>)[name];
  if (typeof fn !== "function") {
    throw new LookupError(
      `${simulator.constructor.name} has no method "${name}" though meta.extra_methods lists it`,
    );
  }
  const resolved = {
    fn: fn as (...args: unknown[]) => unknown,
    thisArg: simulator,
    options: exposedInfo(fn) ?? {},
    qualname: name,
  };
  return Reflect.apply(fn, simulator, bindArguments(resolved, args, kwargs));
}

/** What `init` returned must be meta data whose extra methods exist. */
export function checkMeta(simulator: Simulator, meta: unknown): Meta {
  if (!isObject(meta)) {
    throw new TypeError(
      `${simulator.constructor.name}.init() must return the meta data, not ${
        formatPeerValue(meta)
      }`,
    );
  }
  checkMetaShape(meta);
  const names = (meta as Partial<Meta>).extra_methods ?? [];
  for (const name of names) {
    const fn = (simulator as unknown as Record<string, unknown>)[name];
    if (typeof fn !== "function") {
      throw new TypeError(
        `meta.extra_methods lists "${name}", but ${simulator.constructor.name} has no such method`,
      );
    }
  }
  return meta as unknown as Meta;
}

/** A request's content as `[method, args, kwargs]`, checked. */
export function checkCall(content: unknown): [string, unknown[], Kwargs] {
  if (
    Array.isArray(content) && content.length === 3 &&
    typeof content[0] === "string" && Array.isArray(content[1]) &&
    isObject(content[2])
  ) {
    return content as [string, unknown[], Kwargs];
  }
  throw new TypeError(
    "A mosaik request must be [method: string, args: array, kwargs: object]",
  );
}

/**
 * A time of mosaik's is a whole number of time units from `least` up (NaN
 * or -Infinity would reach the simulator as a time otherwise).
 */
function checkTime(name: string, value: number, least: number): void {
  if (!(Number.isSafeInteger(value) && value >= least)) {
    throw new RangeError(
      `step() got ${name} ${value}; it must be a whole number of time units from ${least} up`,
    );
  }
}

/**
 * `max_advance` is one less than the earliest step another simulator may
 * still cause, so -1 at time 0 (a same-time loop whose simulators all start
 * at 0); mosaik passes `until` when nothing else bounds it, and an `until`
 * beyond 2^53 − 1 (e.g. `sys.maxsize` as a bigint, or a float such as
 * `1e20` or `inf`) gives the simulator `Number.MAX_SAFE_INTEGER`, which no
 * step reaches.
 */
function checkMaxAdvance(value: number | bigint): number {
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
    value = Number(value);
  } else if (value > Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  checkTime("max_advance", value, -1);
  return value;
}

function noArguments(name: string, args: unknown[], kwargs: Kwargs): void {
  if (args.length > 0 || Object.keys(kwargs).length > 0) {
    throw new TypeError(`${name}() takes no arguments`);
  }
}

/** Whether `value` is a JSON object (not null, not an array). */
/** A plain object (not null, not an array): what mosaik sends as a dict. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const SIMULATOR_TYPES = new Set(["time-based", "event-based", "hybrid"]);
const MODEL_LISTS = ["trigger", "non-trigger", "persistent", "non-persistent"];

/**
 * Throws a TypeError naming the first field of `meta` that mosaik could
 * not use: mosaik would fail the scenario later, further from the cause.
 */
function checkMetaShape(meta: Record<string, unknown>): void {
  const { api_version, type, models } = meta;
  if (typeof api_version !== "string" || !/^\d+\.\d+$/.test(api_version)) {
    throw new TypeError(
      `meta.api_version must be a version such as "3.0", not ${
        formatPeerValue(api_version)
      }`,
    );
  }
  if (typeof type !== "string" || !SIMULATOR_TYPES.has(type)) {
    throw new TypeError(
      `meta.type must be "time-based", "event-based" or "hybrid", not ${
        formatPeerValue(type)
      }`,
    );
  }
  if (!isObject(models)) {
    throw new TypeError("meta.models must map model names to their meta data");
  }
  for (const [name, model] of Object.entries(models)) {
    const at = `meta.models[${JSON.stringify(name)}]`;
    if (!isObject(model)) {
      throw new TypeError(
        `${at} must be an object, not ${formatPeerValue(model)}`,
      );
    }
    if (typeof model.public !== "boolean") {
      throw new TypeError(`${at}.public must be true or false`);
    }
    checkNames(model.params, `${at}.params`);
    checkNames(model.attrs, `${at}.attrs`);
    if (
      model.any_inputs !== undefined && typeof model.any_inputs !== "boolean"
    ) {
      throw new TypeError(`${at}.any_inputs must be true or false`);
    }
    for (const list of MODEL_LISTS) {
      if (model[list] !== undefined) checkNames(model[list], `${at}.${list}`);
    }
  }
  if (meta.extra_methods !== undefined) {
    checkNames(meta.extra_methods, "meta.extra_methods");
  }
  if (meta.set_events !== undefined && typeof meta.set_events !== "boolean") {
    throw new TypeError("meta.set_events must be true or false");
  }
}

function checkNames(names: unknown, at: string): void {
  if (!Array.isArray(names)) {
    throw new TypeError(
      `${at} must be a list of names, not ${formatPeerValue(names)}`,
    );
  }
  const bad = names.findIndex((name) => typeof name !== "string");
  if (bad !== -1) {
    throw new TypeError(
      `${at}[${bad}] must be a name, not ${formatPeerValue(names[bad])}`,
    );
  }
}
