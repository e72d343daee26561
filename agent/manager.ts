import { fileURLToPath, pathToFileURL } from "node:url";
import { callHook } from "../channel/_hook.ts";
import { expose } from "../rpc/expose.ts";
import { Agent } from "./agent.ts";
import { importFile } from "./_import_file.ts";
import type { Container } from "./container.ts";
import { ExternalClock } from "./external_clock.ts";
import { internalsOf } from "./_internal.ts";
import { baseUrl } from "./_base_url.ts";

/** An agent class as `Manager.spawn` finds it: constructed with its container first. */
// deno-lint-ignore no-explicit-any
export type AgentClass = new (container: Container, ...args: any[]) => Agent;

/** Options of {@linkcode Manager}. */
export interface ManagerOptions {
  /**
   * Where relative module specifiers in `spawn` are resolved from: a URL,
   * or a directory's path (`"/srv/app"`, `"./agents"`, from the current
   * directory).
   *
   * @default {the current working directory}
   */
  base?: string | URL;
  /**
   * The modules `spawn` may import: URL prefixes such as
   * `"file:///srv/agents/"`, `"https://example.com/agents/"` or `"data:"`.
   * Each prefix is resolved against `base` first (so `"./agents/"` works)
   * and normalized like a URL (`..` removed). A module is allowed when its
   * resolved URL equals a prefix or starts with it at a boundary: the prefix
   * ends with `/` or `:` (a whole scheme, e.g. `"npm:"`), or the URL goes on
   * with `/` or `?` after it — so `"file:///srv/agents"` allows
   * `file:///srv/agents/a.ts` but not `file:///srv/agentsEVIL/a.ts`.
   * `file:` URLs are compared as the path they open (encoded separators
   * such as `%2F` are refused), so `..` cannot escape a prefix. A module
   * with a query (`a.ts?v=2`) is allowed only under a prefix that has a
   * query too: each query imports the module once more, kept for the life
   * of the process, so a peer could grow it without end. For the same
   * reason a `file:` module that does not exist is refused before it is
   * imported (Deno keeps failed imports too; without read permission for
   * the path this cannot be checked, and once 64 modules imported without
   * that check have failed, those `spawn` has not imported before are
   * refused); under an `http:` or
   * `https:` prefix every path a peer names is fetched once and kept,
   * found or not: allow such a prefix only for peers you trust.
   *
   * The list replaces the default, it does not add to it; `[]` refuses
   * every module. Modules a spawned module imports itself are not checked:
   * allow only modules you trust. Symbolic links under an allowed
   * directory are followed.
   *
   * Every peer that can reach a managed container can call `spawn`, so
   * keep the list narrow and the container behind mutual TLS or on a
   * private address. Any agent class exported under a prefix can be built
   * with arguments the peer chooses: keep classes whose options grant
   * powers out of it. A `Manager` (or a subclass) is never spawned: its
   * caller would choose its `allowSpawn`.
   *
   * @default {`file:` modules under the working directory when the manager is created (`[pathToFileURL(Deno.cwd() + "/").href]`)}
   */
  allowSpawn?: readonly string[];
  /**
   * Called after `stop()` has shut the container down (e.g. to exit the
   * process). What it throws is logged with `console.error`.
   */
  onStop?: () => void;
}

/**
 * The agent that manages a container from outside (aiomas
 * `subproc.Manager`): it spawns agents, sets the time of an external clock
 * and stops the container. Create it first, so that it has aid `"0"`.
 *
 * The method names and result shapes are aiomas's, so a Python master can
 * manage a Deno container and the other way round.
 *
 * The manager obeys every peer that can reach its container: `spawn` runs
 * module code, so it imports only modules under
 * {@linkcode ManagerOptions.allowSpawn} (by default `file:` modules under
 * the working directory) and refuses everything else — `data:`, `blob:`,
 * `http(s):`, `npm:` and `jsr:` included — before importing it. Keep a
 * managed container behind mutual TLS or on a private address.
 *
 * @example
 * ```ts
 * import { Container, ExternalClock, Manager } from "@aiomas/aiomas/agent";
 * import assert from "node:assert/strict";
 *
 * await using container = await Container.create("local://managed", {
 *   clock: new ExternalClock("2016-01-01T00:00:00+00:00"),
 * });
 * const manager = new Manager(container);
 * assert.equal(manager.aid, "0");
 * manager.set_time(10);
 * assert.equal(container.clock.time(), 10);
 * ```
 */
export class Manager extends Agent {
  #base: string | URL;
  #allowSpawn: readonly string[];
  #onStop: (() => void) | undefined;
  #stopping = false;

  /**
   * Creates the manager of `container`.
   *
   * @param container The container to manage.
   * @param options See {@linkcode ManagerOptions}.
   * @throws {TypeError} If an `allowSpawn` prefix is not a valid URL.
   */
  constructor(container: Container, options: ManagerOptions = {}) {
    super(container);
    // pathToFileURL escapes `#`, `%` and spaces and knows Windows drives.
    const cwd = pathToFileURL(`${Deno.cwd()}/`).href;
    this.#base = options.base === undefined ? cwd : baseUrl(options.base);
    this.#allowSpawn = options.allowSpawn === undefined
      ? [cwd]
      : options.allowSpawn.map((prefix) => normalizePrefix(prefix, this.#base));
    this.#onStop = options.onStop;
  }

  /**
   * The normalized prefixes of the modules `spawn` may import (see
   * {@linkcode ManagerOptions.allowSpawn}).
   *
   * @returns The prefixes, e.g. `["file:///srv/app/"]`.
   */
  get allowSpawn(): readonly string[] {
    return this.#allowSpawn;
  }

  /**
   * Creates an agent of a class exported by a module.
   *
   * @param spec `"<module>#<ExportName>"`, e.g. `"./agents.ts#Worker"` or a
   *   full URL; relative modules are resolved from `options.base`.
   * @param args The constructor's arguments after the container.
   * @returns `[agent, address]`; the agent travels as a reference.
   * @throws {TypeError} If the spec is malformed, names no agent class, or
   *   a `file:` module that does not exist (it is not imported).
   * @throws {Deno.errors.NotCapable} If the class is a `Manager` (the
   *   caller would choose its `allowSpawn`), the module is not under a
   *   prefix of {@linkcode ManagerOptions.allowSpawn}, or the process may not read
   *   its path and 64 modules imported without that check have failed
   *   (see `allowSpawn`); it is not imported.
   */
  @expose
  async spawn(spec: string, ...args: unknown[]): Promise<[Agent, string]> {
    const { url, name } = parseSpec(spec, this.#base);
    const allowed = allowedUrl(url, this.#allowSpawn);
    const AgentClass = await importAgentClass(spec, allowed, name);
    if (AgentClass === Manager || AgentClass.prototype instanceof Manager) {
      // A manager's options come from its arguments: a peer would pick its
      // own allowSpawn, and spawn through it what this one refuses.
      throw new Deno.errors.NotCapable(
        `Manager refuses to spawn ${
          JSON.stringify(spec)
        }: the rule is never to spawn a Manager (the caller would choose its allowSpawn)`,
      );
    }
    const container = internalsOf(this.container, "Manager.spawn()");
    const first = container.nextAid();
    let agent: Agent;
    try {
      agent = new AgentClass(this.container, ...args);
    } catch (error) {
      // Its super() registered it (and any agent it made) before the
      // throw: none of them may stay, reachable and half made.
      for (let aid = first; aid < container.nextAid(); aid++) {
        this.container.removeAgent(String(aid));
      }
      throw error;
    }
    return [agent, agent.addr];
  }

  /**
   * Sets the container's external clock.
   *
   * @param time The new time in seconds: a finite number, later than the
   *   current one.
   * @throws {TypeError} If the container's clock is not an `ExternalClock`,
   *   or `time` is not a number.
   * @throws {RangeError} If `time` is not finite or not later than the
   *   current time.
   */
  @expose
  set_time(time: number): void {
    const clock = this.container.clock;
    if (!(clock instanceof ExternalClock)) {
      throw new TypeError(
        "Cannot set the time: the container's clock is not an ExternalClock",
      );
    }
    clock.setTime(time);
  }

  /**
   * Shuts the container down once this call has been answered; calling it
   * again changes nothing (the shutdown and `onStop` run once).
   */
  @expose
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    // Let the reply go out first; shutdown then closes every connection.
    setTimeout(async () => {
      await this.container.shutdown();
      if (this.#onStop !== undefined) callHook("onStop", this.#onStop);
    }, 0);
  }
}

/**
 * Imports the agent class named by a spawn spec. It imports whatever the
 * spec names: the allow-list is {@linkcode Manager.spawn}'s, so never pass
 * it a spec from a peer.
 *
 * @param spec `"<module>#<ExportName>"`.
 * @param base Where relative modules are resolved from.
 * @returns The class.
 * @throws {TypeError} If the spec is malformed or names no agent class.
 */
export async function loadAgentClass(
  spec: string,
  base: string | URL,
): Promise<AgentClass> {
  const { url, name } = parseSpec(spec, base);
  return await importAgentClass(spec, url, name);
}

/** Splits `"<module>#<ExportName>"` and resolves the module against `base`. */
function parseSpec(
  spec: string,
  base: string | URL,
): { url: URL; name: string } {
  const hash = typeof spec === "string" ? spec.lastIndexOf("#") : -1;
  if (hash <= 0 || hash === spec.length - 1) {
    throw new TypeError(
      `Invalid agent spec ${
        JSON.stringify(spec)
      }: expected "<module>#<ExportName>"`,
    );
  }
  return {
    url: new URL(spec.slice(0, hash), base),
    name: spec.slice(hash + 1),
  };
}

/** Imports `url` and returns its export `name`, checked to be an Agent class. */
async function importAgentClass(
  spec: string,
  url: URL,
  name: string,
): Promise<AgentClass> {
  const module = url.protocol === "file:"
    ? await importFile(spec, url)
    : await import(url.href);
  if (!(name in module)) {
    throw new TypeError(
      `Invalid agent spec ${
        JSON.stringify(spec)
      }: module "${url.href}" has no export "${name}"`,
    );
  }
  const value = module[name];
  if (typeof value !== "function" || !(value.prototype instanceof Agent)) {
    throw new TypeError(
      `Invalid agent spec ${
        JSON.stringify(spec)
      }: "${name}" is not an Agent class`,
    );
  }
  return value as AgentClass;
}

/**
 * A prefix in the form modules are compared in: resolved against `base`,
 * and for `file:` the URL of the path it names.
 */
function normalizePrefix(prefix: string, base: string | URL): string {
  let url: URL;
  try {
    url = new URL(prefix, base);
  } catch {
    throw new TypeError(
      `Invalid allowSpawn prefix ${JSON.stringify(prefix)}: not a URL`,
    );
  }
  const canonical = canonicalHref(url);
  if (canonical === undefined) {
    throw new TypeError(
      `Invalid allowSpawn prefix ${
        JSON.stringify(prefix)
      }: not a local file path (encoded separator or host)`,
    );
  }
  return canonical;
}

/**
 * The href modules are compared on. A `file:` URL is turned into the path
 * Deno will open and back, so `%2e%2e`, `%2F` (which Deno's loader decodes
 * into a separator after `..` has been resolved) or a host cannot move it
 * out of a prefix: such URLs have no canonical form and are refused.
 */
function canonicalHref(url: URL): string | undefined {
  if (url.protocol !== "file:") return url.href;
  if (/%2f|%5c|%00/i.test(url.pathname) || url.pathname.includes("\\")) {
    return undefined;
  }
  try {
    // Both keep a trailing slash.
    return pathToFileURL(fileURLToPath(url)).href + url.search;
  } catch {
    return undefined;
  }
}

/** Whether `href` is `prefix` or continues it at a boundary. */
function underPrefix(href: string, prefix: string): boolean {
  if (!href.startsWith(prefix)) return false;
  if (href.length === prefix.length) return true;
  if (prefix.endsWith("/") || prefix.endsWith(":")) return true;
  const next = href[prefix.length];
  return next === "/" || next === "?";
}

/**
 * The canonical URL of `url` if it is under one of `allowed`, to import
 * exactly what was checked; runs before the import, so a refused module
 * never runs.
 */
function allowedUrl(url: URL, allowed: readonly string[]): URL {
  const href = canonicalHref(url);
  // Each query imports the module once more, kept for the life of the
  // process: only the queries a prefix spells are allowed.
  const query = href !== undefined && href.includes("?");
  if (
    href !== undefined &&
    allowed.some((prefix) =>
      underPrefix(href, prefix) && (!query || prefix.includes("?"))
    )
  ) {
    return new URL(href);
  }
  const why = href === undefined
    ? "a file: URL with an encoded separator, NUL or host is never allowed"
    : query && allowed.some((prefix) => underPrefix(href, prefix))
    ? "a query string imports the module once more for each value, kept for the life of the process: allowed only under a prefix that has one"
    : allowed.length === 0
    ? "the allow-list is empty"
    : `allowed prefixes: ${allowed.map((p) => JSON.stringify(p)).join(", ")}`;
  // One line: a peer reads the error's last line as "<Name>: <message>".
  throw new Deno.errors.NotCapable(
    `Manager refuses to spawn ${
      JSON.stringify(url.href)
    }: the rule is to import only modules under an allowSpawn prefix (${why}); widen it with the allowSpawn option (ManagerOptions, startContainerWorker, startContainerProcess) or cli.ts --allow-spawn <prefix>`,
  );
}
