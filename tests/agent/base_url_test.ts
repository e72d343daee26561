// Where relative spawn and serializers specs are resolved from: a URL as
// it is, a path (also a Windows drive path) as the directory it names.
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { baseUrl } from "../../agent/_base_url.ts";

Deno.test("baseUrl: URLs stay, paths become their directory's file URL", () => {
  assert.equal(baseUrl("file:///srv/app/"), "file:///srv/app/");
  assert.equal(baseUrl("https://example.com/a/"), "https://example.com/a/");
  const url = new URL("file:///x/");
  assert.equal(baseUrl(url), url);
  assert.equal(baseUrl("/srv/app"), "file:///srv/app/");
  assert.equal(baseUrl("/srv/app/"), "file:///srv/app/");
  assert.equal(baseUrl("agents"), pathToFileURL(`${Deno.cwd()}/agents/`).href);
  // Not the URL of scheme "c:" it also parses as.
  assert.match(String(baseUrl("C:\\srv\\app")), /^file:\/\//);
});
