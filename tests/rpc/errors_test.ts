// Errors that help: LookupError is a class of its own (aiomas's texts kept),
// a thrown non-Error reaches the caller as readable text, @expose refuses
// to run as a legacy (experimentalDecorators) decorator, and the RPC
// openConnection/startServer pass errorFormat to their channels.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { LookupError, RemoteError } from "../../errors.ts";
import {
  expose,
  openConnection,
  RpcClient,
  type RpcServer,
  Service,
  ServiceDict,
  startServer,
} from "../../rpc/mod.ts";

const HINT =
  "aiomas's @expose is a standard decorator: remove experimentalDecorators from compilerOptions";

class Thrower {
  @expose
  throwObject(): never {
    throw { code: 42, reason: "bad input" };
  }

  @expose
  async rejectObject(): Promise<never> {
    await Promise.resolve();
    throw ["code", 42];
  }

  @expose
  throwString(): never {
    throw "just a string";
  }

  @expose
  throwUndefined(): never {
    throw undefined;
  }

  @expose
  throwErrorLike(): never {
    // E.g. an error that crossed a realm and lost its prototype.
    throw { name: "ValueError", message: "no such value" };
  }

  @expose
  throwLines(): never {
    throw new Error("line one\nline two");
  }

  secret(): string {
    return "no";
  }
}

function memoryPair(service: object) {
  const [a, b] = createMemoryPair();
  const server = new RpcClient(new Channel(b), { service });
  const client = new RpcClient<Thrower>(new Channel(a));
  return {
    client,
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

function remote(name: string, message: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof RemoteError, `not a RemoteError: ${error}`);
    assert.equal(error.remoteName, name);
    assert.equal(error.remoteMessage, message);
    return true;
  };
}

Deno.test("LookupError: Service.resolve throws the class, with aiomas's texts", () => {
  const router = Service.of(new Thrower());
  assert.throws(() => router.resolve("nope"), (error: unknown) => {
    assert.ok(error instanceof LookupError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "LookupError");
    assert.equal(error.message, 'Name "nope" not found in ""');
    return true;
  });
  assert.throws(() => router.resolve("secret"), {
    name: "LookupError",
    message: '"Thrower.secret" is not exposed',
  });
  assert.throws(
    () => new ServiceDict({ sub: new ServiceDict({}) }).resolve("sub/x"),
    LookupError,
  );
});

Deno.test("LookupError: the caller sees remoteName LookupError", async () => {
  await using pair = memoryPair(new Thrower());
  await assert.rejects(
    pair.client.call("nope"),
    remote("LookupError", 'Name "nope" not found in ""'),
  );
  await assert.rejects(
    pair.client.call("secret"),
    remote("LookupError", '"Thrower.secret" is not exposed'),
  );
  // A sub-attribute of a method: the method exists, and the error says so.
  const method = pair.client.remote.throwString as unknown as {
    sub(x: number): Promise<unknown>;
  };
  await assert.rejects(
    method.sub(1),
    remote(
      "LookupError",
      '"Thrower.throwString" is a function, not a service: cannot call "throwString/sub"',
    ),
  );
});

Deno.test("thrown non-Errors reach the caller as readable text", async () => {
  await using pair = memoryPair(new Thrower());
  const { remote: r } = pair.client;
  await assert.rejects(
    r.throwObject(),
    remote("Error", '{"code":42,"reason":"bad input"}'),
  );
  await assert.rejects(
    r.rejectObject(),
    remote("Error", '["code",42]'),
  );
  await assert.rejects(r.throwString(), remote("Error", "just a string"));
  await assert.rejects(r.throwUndefined(), remote("Error", "undefined"));
  await assert.rejects(
    r.throwErrorLike(),
    remote("ValueError", "no such value"),
  );
  // No frames of the RPC layer pretend to be where it was thrown.
  const error = await r.throwObject().catch((e) => e) as RemoteError;
  assert.equal(
    error.remoteTraceback,
    'Error: {"code":42,"reason":"bad input"}\n',
  );
});

Deno.test("thrown non-Errors: a huge value is cut short", async () => {
  const big = { text: "x".repeat(100_000) };
  await using pair = memoryPair(
    new ServiceDict({
      huge: () => {
        throw big;
      },
    }),
  );
  const error = await pair.client.call("huge").catch((e) => e) as RemoteError;
  assert.ok(error instanceof RemoteError);
  assert.ok(
    error.remoteMessage.length < 1100,
    `${error.remoteMessage.length}`,
  );
  assert.match(
    error.remoteMessage,
    /^\{"text":"xxx.*… \(100011 characters\)$/,
  );
});

Deno.test("@expose on what a call cannot reach throws at class definition", () => {
  const refused = (what: string) => ({
    name: "TypeError",
    message: new RegExp(
      `^Cannot expose \\S+: only methods, fields and functions can be exposed, not ${what}$`,
    ),
  });
  assert.throws(() => {
    class _Getter {
      // @ts-expect-error: a getter is not a method
      @expose
      get value(): number {
        return 1;
      }
    }
  }, refused("a getter"));
  assert.throws(() => {
    class _Static {
      @expose
      static make(): number {
        return 2;
      }
    }
  }, refused("a static member"));
  assert.throws(() => {
    class _Private {
      @expose
      #hidden(): number {
        return 3;
      }
    }
  }, refused("a #private member"));
  assert.throws(() => {
    class _Accessor {
      // @ts-expect-error: an accessor is not a method
      @expose
      accessor count = 0;
    }
  }, refused("an accessor"));
});

Deno.test("@expose called as a legacy decorator throws with a hint", () => {
  class Target {
    add(a: number, b: number): number {
      return a + b;
    }
  }
  const proto = Target.prototype;
  const descriptor = Object.getOwnPropertyDescriptor(proto, "add");
  // What TypeScript's __decorate does under experimentalDecorators.
  const legacy = expose as unknown as (...args: unknown[]) => unknown;
  assert.throws(() => legacy(proto, "add", descriptor), {
    name: "TypeError",
    message:
      `Cannot expose add: @expose was called as a legacy decorator. ${HINT}`,
  });
  // A field: (prototype, key) or (prototype, key, undefined).
  assert.throws(() => legacy(proto, "sub"), { message: new RegExp(HINT) });
  assert.throws(() => legacy(proto, "sub", undefined), TypeError);
  // @expose({ params }) returns a decorator that is then called so.
  const withParams = expose({ params: ["a", "b"] }) as unknown as (
    ...args: unknown[]
  ) => unknown;
  assert.throws(() => withParams(proto, "add", descriptor), {
    message: new RegExp(HINT),
  });
  assert.throws(() => legacy(proto, Symbol("s"), descriptor), {
    message: /Cannot expose Symbol\(s\)/,
  });
});

Deno.test("@expose under experimentalDecorators fails at decoration time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ compilerOptions: { experimentalDecorators: true } }),
    );
    const exposeUrl = new URL("../../rpc/expose.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/legacy.ts`,
      `import { expose } from ${JSON.stringify(exposeUrl)};
const results: string[] = [];
try {
  class A {
    @expose
    add(a: number, b: number): number {
      return a + b;
    }
  }
  results.push("method: defined " + typeof A);
} catch (error) {
  results.push("method: " + (error as Error).message);
}
try {
  class B {
    @expose({ params: ["a"] })
    one(a: number): number {
      return a;
    }
  }
  results.push("params: defined " + typeof B);
} catch (error) {
  results.push("params: " + (error as Error).message);
}
console.log(JSON.stringify(results));
`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-lock",
        "--config",
        `${dir}/deno.json`,
        `${dir}/legacy.ts`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.ok(output.success, stderr);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), [
      `method: Cannot expose add: @expose was called as a legacy decorator. ${HINT}`,
      `params: Cannot expose one: @expose was called as a legacy decorator. ${HINT}`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errorFormat: rpc.startServer and rpc.openConnection pass it to their channels", async () => {
  // A name that is no identifier tells the formats apart: mosaik sends
  // it as a field, aiomas's traceback text cannot carry it.
  class Lines {
    @expose
    fail(): never {
      throw Object.assign(new Error("line one\nline two"), {
        name: "Odd Name",
      });
    }
  }
  const connected = Promise.withResolvers<RpcClient>();
  let server: RpcServer | undefined;
  try {
    server = await startServer(
      { hostname: "127.0.0.1", port: 0 },
      new Lines(),
      {
        errorFormat: "mosaik",
        onConnection: (client) => connected.resolve(client),
      },
    );
    await using client = await openConnection<Lines>(server.addr, {
      errorFormat: "mosaik",
      service: new Lines(),
    });
    await assert.rejects(
      client.remote.fail(),
      remote("Odd Name", "line one\nline two"),
    );
    const serverSide = await connected.promise;
    await assert.rejects(
      serverSide.call("fail"),
      remote("Odd Name", "line one\nline two"),
    );
  } finally {
    await server?.close();
  }
  // The default is aiomas's text: its last line, without a name.
  await using pair = memoryPair(new Lines() as unknown as Thrower);
  await assert.rejects(
    (pair.client.remote as unknown as Lines).fail(),
    remote("", "line two"),
  );
});

Deno.test("RemoteError: a message of several lines keeps them all, and its error's name (aiomas's text, Python's too)", async () => {
  await using pair = memoryPair(new Thrower());
  await assert.rejects(
    pair.client.remote.throwLines(),
    remote("Error", "line one\nline two"),
  );
  // What Python's traceback.format_exception gives for
  // ValueError("first\nsecond"), and a chained one.
  const python =
    'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n    raise ValueError("first\\nsecond")\nValueError: first\nsecond\n';
  const error = new RemoteError("peer", python);
  assert.equal(error.remoteName, "ValueError");
  assert.equal(error.remoteMessage, "first\nsecond");
  assert.equal(error.message, "ValueError: first\nsecond (raised by peer)");
  const chained = new RemoteError(
    "peer",
    `${python}\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File "y.py", line 2, in f\n    g()\n    ^^^\nKeyError: 'k'\n`,
  );
  assert.equal(chained.remoteName, "KeyError");
  assert.equal(chained.remoteMessage, "'k'");
  // Without a traceback: what formatError sends for an error without a
  // stack, whatever its lines read like.
  const bare = new RemoteError("peer", "RangeError: x must be >= 0\ngot -1\n");
  assert.equal(bare.remoteName, "RangeError");
  assert.equal(bare.remoteMessage, "x must be >= 0\ngot -1");
  const hinted = new RemoteError("peer", "Error: disk full\nretry: later\n");
  assert.equal(hinted.remoteName, "Error");
  assert.equal(hinted.remoteMessage, "disk full\nretry: later");
  // A traceback cut short after a frame: its last line, as before.
  const cut = new RemoteError(
    "peer",
    'Traceback (most recent call last):\n  File "a.py", line 3, in f\n    raise ValueError("x")',
  );
  assert.equal(cut.remoteName, "");
  assert.equal(cut.remoteMessage, '    raise ValueError("x")');
});

Deno.test("RemoteError: a text that is no traceback shows its last line that is not blank, however many lines it has", () => {
  assert.equal(
    new RemoteError("peer", "first\nsecond line  \n \n\t\n\n").remoteMessage,
    "second line",
  );
  assert.equal(new RemoteError("peer", "one line").remoteMessage, "one line");
  assert.equal(new RemoteError("peer", "\n \n").remoteMessage, "");
  // A peer's 6 MiB of short lines (it was split into 2 Mi strings).
  const many = new RemoteError(
    "peer",
    `${"ab\n".repeat(2 ** 21)}the last one\n\n`,
  );
  assert.equal(many.remoteMessage, "the last one");
});
