// What a simulator returns to mosaik, checked before it is sent: a wrong
// shape fails the call here, naming the method and the value, instead of
// failing inside mosaik ("'int' object has no attribute 'items'").
import { formatPeerValue } from "../channel/_message.ts";
import { isObject } from "./_api_calls.ts";
import type { Simulator } from "./simulator.ts";

/**
 * Checks the result of the API call `name` (`create`, `step`,
 * `get_data`); other calls' results are not checked.
 *
 * @throws {TypeError} Naming the method and what is wrong.
 */
export function checkResult(
  simulator: Simulator,
  name: string,
  result: unknown,
): void {
  const method = `${simulator.constructor.name}.${METHODS[name] ?? name}()`;
  if (name === "create") checkEntities(method, result, "");
  else if (name === "step") checkNextStep(method, result);
  else if (name === "get_data") checkOutputs(method, result);
}

const METHODS: Record<string, string> = {
  create: "create",
  step: "step",
  get_data: "getData",
};

/** `create`'s entities (and their children): `[{eid, type, ...}]`. */
function checkEntities(method: string, result: unknown, where: string): void {
  if (!Array.isArray(result)) {
    throw new TypeError(
      `${method} must return a list of entities${where}, not ${
        formatPeerValue(result)
      }`,
    );
  }
  for (const [i, entity] of result.entries()) {
    const at = `${where}[${i}]`;
    if (
      !isObject(entity) || typeof entity.eid !== "string" ||
      typeof entity.type !== "string"
    ) {
      throw new TypeError(
        `${method} must return entities { eid: string, type: string }; entity ${at} is ${
          describeEntity(entity)
        }`,
      );
    }
    if (entity.children !== undefined && entity.children !== null) {
      checkEntities(method, entity.children, `${at}.children`);
    }
  }
}

/** `step`'s next time: a whole number from 0 up, or none. */
function checkNextStep(method: string, result: unknown): void {
  if (result === null || result === undefined || isTime(result)) return;
  throw new TypeError(
    `${method} must return the time of its next step (a whole number of time units) or null, not ${
      formatPeerValue(result)
    }`,
  );
}

/** A time of mosaik's: a whole number of time units from 0 up. */
function isTime(value: unknown): boolean {
  return (typeof value === "number" && Number.isSafeInteger(value) &&
    value >= 0) || (typeof value === "bigint" && value >= 0n);
}

/** `getData`'s outputs: `{eid: {attr: value}, time?: number}`. */
function checkOutputs(method: string, result: unknown): void {
  if (!isObject(result)) {
    throw new TypeError(
      `${method} must return {eid: {attr: value}}, not ${
        formatPeerValue(result)
      }`,
    );
  }
  for (const key of Object.keys(result)) {
    const value = result[key];
    if (key === "time") {
      if (value === undefined || isTime(value)) continue;
      throw new TypeError(
        `${method} must return a time that is a whole number of time units, not ${
          formatPeerValue(value)
        }`,
      );
    }
    if (value !== undefined && !isObject(value)) {
      throw new TypeError(
        `${method} must return {eid: {attr: value}}; ${
          formatPeerValue(key)
        } is ${formatPeerValue(value)}`,
      );
    }
  }
}

function describeEntity(entity: unknown): string {
  if (!isObject(entity)) return formatPeerValue(entity);
  return `{ eid: ${formatPeerValue(entity.eid)}, type: ${
    formatPeerValue(entity.type)
  } }`;
}
