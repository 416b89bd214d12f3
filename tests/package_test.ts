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
    const source = (value: string | Record<string, string>) =>
      typeof value === "string" ? value : value.source ?? value.default ?? value.import;
    assert.deepEqual(Object.keys(deno).sort(), Object.keys(npm).sort());
    for (const key of Object.keys(deno)) assert.equal(source(npm[key]), deno[key], key);
    assert.deepEqual(Object.keys(deno).sort(), [".", "./resolve", "./tcp", "./udp", "./unix"]);
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
