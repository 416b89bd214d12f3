import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import * as unisock from "../mod.ts";

const root = new URL("../", import.meta.url);
const readJson = (name: string) => JSON.parse(readFileSync(new URL(name, root), "utf8"));

describe("package", () => {
  it("deno.json and package.json name the same exports", () => {
    const deno = readJson("deno.json").exports as Record<string, string>;
    const npm = readJson("package.json").exports as Record<string, string | Record<string, string>>;
    assert.deepEqual(Object.keys(deno).sort(), Object.keys(npm).sort());
    assert.deepEqual(Object.keys(deno).sort(), [".", "./cli", "./resolve", "./sockets", "./sockets/register", "./tcp", "./udp", "./unix"]);
  });

  it("package.json's exports are dist/ files built from deno.json's sources, types first", () => {
    // npm ships JavaScript and .d.ts compiled (scripts/build.mjs) from the .ts files that
    // deno.json exports: `./tcp/mod.ts` -> `./dist/tcp/mod.js` and `./dist/tcp/mod.d.ts`.
    const deno = readJson("deno.json").exports as Record<string, string>;
    const npm = readJson("package.json").exports as Record<string, string | Record<string, string>>;
    const built = (source: string, extension: string) => source.replace(/^\.\//, "./dist/").replace(/\.ts$/, extension);
    for (const [key, source] of Object.entries(deno)) {
      const entry = npm[key];
      assert.equal(typeof entry, "object", `${key}: a conditions object`);
      const conditions = entry as Record<string, string>;
      assert.equal(Object.keys(conditions)[0], "types", `${key}: "types" comes first`);
      assert.equal(conditions.types, built(source, ".d.ts"), `${key}: types`);
      assert.equal(conditions.default, built(source, ".js"), `${key}: default`);
      assert.deepEqual(Object.keys(conditions).sort(), ["default", "types"], `${key}: no other condition`);
    }
    const pkg = readJson("package.json");
    assert.equal(pkg.main, built(deno["."], ".js"));
    assert.equal(pkg.types, built(deno["."], ".d.ts"));
    // docs/: the reference pages the README links to.
    assert.deepEqual(pkg.files, ["dist/", "docs/", "README.md", "LICENSE"]);
  });

  it("the unisock bin is the built CLI entry, and the CLI starts with a shebang", () => {
    const pkg = readJson("package.json");
    const deno = readJson("deno.json").exports as Record<string, string>;
    assert.equal(deno["./cli"], "./cli/mod.ts");
    assert.deepEqual(pkg.bin, { unisock: "dist/cli/mod.js" });
    // tsc keeps a first-line shebang in the emitted JavaScript; npm's bin link needs it.
    const source = readFileSync(new URL("cli/mod.ts", root), "utf8");
    assert.ok(source.startsWith("#!/usr/bin/env node\n"), "cli/mod.ts starts with #!/usr/bin/env node");
  });

  it("mod.ts exports the contract's names", () => {
    for (const name of ["resolveAddresses", "tcp", "udp", "unix", "SocketError", "SOCKET_ERROR_CODES"]) {
      assert.ok(name in unisock, name);
    }
    assert.equal(typeof unisock.tcp.connect, "function");
    assert.equal(typeof unisock.tcp.listen, "function");
  });

  it("package names are the contract's", () => {
    assert.equal(readJson("package.json").name, "unisock");
    assert.equal(readJson("package.json").type, "module");
    assert.equal(readJson("deno.json").name, "@unisock/unisock");
  });
});
