import { callHook } from "../channel/_hook.ts";

// What a container's connections share with the rest of it: the labels
// of the references a peer sends, and telling the container's owner of a
// lost connection.

/**
 * How the proxies of references received from the container `container`
 * are labelled, made once for all of them (a label is made when asked).
 */
export function referenceLabel(container: string): (path: string) => string {
  return (path) => {
    const match = /^agents\/([^/]+)$/.exec(path);
    return match
      ? `AgentProxy('${container}${match[1]}')`
      : `RpcProxy('${path}')`;
  };
}

/**
 * Tells `hook` of a lost connection. What it throws is logged: it would
 * otherwise end the process as an unhandled rejection.
 */
export function report(
  hook: (error: unknown, peer: string) => void,
  error: unknown,
  peer: string,
): void {
  callHook("onConnectionLost", hook, error, peer);
}
