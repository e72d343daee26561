// What a container knows of the agents of others: the class names their
// containers answer to validate_aid (peer text, so clipped), and the error
// for an agent that is not there.
import { clipPeerText, formatPeerValue } from "../channel/_message.ts";
import { ProtocolError } from "../errors.ts";
import { lookupError } from "../rpc/service.ts";
import type { AgentAddress } from "./agent_address.ts";

/**
 * The longest agent class name kept of a peer's `validate_aid` answer; a
 * longer one is clipped (it only labels proxies).
 */
export const MAX_CLASS_NAME = 256;

/**
 * The class name in a peer's answer to `validate_aid`, clipped to
 * MAX_CLASS_NAME characters.
 *
 * @throws {LookupError} If the answer is null (no such agent).
 * @throws {ProtocolError} If it is neither null nor a string.
 */
export function className(answer: unknown, target: AgentAddress): string {
  if (answer === null) throw noSuchAgent(target.aid, target.container);
  if (typeof answer !== "string") {
    throw new ProtocolError(
      `Container ${target.container} answered validate_aid("${target.aid}") with ${
        formatPeerValue(answer)
      }, not an agent class name (a string) or null`,
    );
  }
  return clipPeerText(answer, MAX_CLASS_NAME);
}

/** The error for a missing agent. */
export function noSuchAgent(aid: string, container: string): Error {
  return lookupError(`No agent "${aid}" in container ${container}`);
}
