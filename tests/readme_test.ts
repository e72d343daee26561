// `deno test --doc` runs the README's examples from the repository root, but
// a user runs them from anywhere: they must not lean on the working
// directory (a relative spawn spec, the default of allowSpawn).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const README = fileURLToPath(new URL("../README.md", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

Deno.test("README: the examples run from another working directory", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-env",
        "--doc",
        `--config=${CONFIG}`,
        README,
      ],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    assert.equal(code, 0, text.decode(stdout) + text.decode(stderr));
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
