// `deno test --doc` runs the JSDoc examples, but not the code blocks of the
// README and docs/*.md: each is run here, as a user would run it, from
// another working directory (an example must not lean on it: a relative
// spawn spec, the default of allowSpawn). A block that needs what a test
// cannot give (a NATS server on its usual port) is `ts ignore check`:
// type-checked, not run.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = new URL("../", import.meta.url);
const CHECK_ONLY = "```ts ignore check";
const CONFIG = fileURLToPath(new URL("deno.json", ROOT));
const PAGES = [
  "README.md",
  ...[...Deno.readDirSync(new URL("docs/", ROOT))]
    .map((entry) => `docs/${entry.name}`)
    .filter((name) => name.endsWith(".md"))
    .sort(),
];

for (const page of PAGES) {
  Deno.test(`${page}: the examples run from another working directory`, async () => {
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
          // A page with no runnable block is not an error.
          "--permit-no-files",
          `--config=${CONFIG}`,
          fileURLToPath(new URL(page, ROOT)),
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
}

/** The page with its check-only blocks made plain and every other one ignored. */
function checkOnlyBlocks(page: string): string {
  return page.replace(
    /^```(ts|typescript|js|javascript|tsx|jsx)\b.*$/gm,
    (fence) => fence === CHECK_ONLY ? "```ts" : "```ts ignore",
  );
}

for (const page of PAGES) {
  const text = Deno.readTextFileSync(new URL(page, ROOT));
  if (!text.includes(CHECK_ONLY)) continue;
  Deno.test(`${page}: the examples that cannot run here type-check`, async () => {
    const cwd = await Deno.makeTempDir();
    try {
      const copy = `${cwd}/${page.replace("/", "_")}`;
      await Deno.writeTextFile(copy, checkOnlyBlocks(text));
      const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["check", "--doc-only", `--config=${CONFIG}`, copy],
        cwd,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decoder = new TextDecoder();
      assert.equal(code, 0, decoder.decode(stdout) + decoder.decode(stderr));
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
}
