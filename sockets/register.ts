/**
 * One line of set-up that makes `import { connect } from "cloudflare:sockets"` resolve
 * to unisock's Sockets API, in your code and inside npm packages alike:
 *
 * - Node.js: `node --import unisock/sockets/register app.js`
 * - Deno: `deno run --preload jsr:@unisock/unisock/sockets/register app.ts`
 *   (or `npm:unisock/sockets/register`)
 * - Bun: `bun --preload unisock/sockets/register app.ts`
 *
 * Node and Deno take a resolve hook (`registerHooks` of `node:module`; on Node 20 a
 * loader given to `register`), Bun a plugin (`Bun.plugin` with `build.module`). Importing this module does nothing else.
 *
 * @example Register in code instead of on the command line (before the library is imported)
 * ```ts ignore
 * import "@unisock/unisock/sockets/register";
 * const { default: postgres } = await import("postgres");
 * ```
 *
 * @module
 */
import * as sockets from "./mod.ts";

/** The specifier this module makes resolve to unisock's Sockets API. */
const SPECIFIER = "cloudflare:sockets";

interface ResolveResult {
  url: string;
  shortCircuit?: boolean;
}

interface ModuleHooks {
  register?: (specifier: string, parentUrl: string) => void;
  registerHooks?: (hooks: {
    resolve: (specifier: string, context: unknown, next: (specifier: string, context: unknown) => ResolveResult) => ResolveResult;
  }) => unknown;
}

interface BunPluginBuilder {
  module(specifier: string, load: () => { exports: Record<string, unknown>; loader: "object" }): void;
}

interface BunGlobal {
  plugin(plugin: { name: string; setup(build: BunPluginBuilder): void }): void;
}

const bun = (globalThis as { Bun?: BunGlobal }).Bun;
if (bun !== undefined) {
  bun.plugin({
    name: "unisock cloudflare:sockets",
    setup(build) {
      build.module(SPECIFIER, () => ({ exports: { ...sockets }, loader: "object" }));
    },
  });
} else {
  const { registerHooks, register } = (await import("node:module")) as ModuleHooks;
  // The entry next to this file: mod.ts in the source, mod.js in the npm build.
  const entry = new URL(import.meta.url.endsWith(".ts") ? "./mod.ts" : "./mod.js", import.meta.url).href;
  if (registerHooks !== undefined) {
    registerHooks({
      resolve: (specifier, context, next) =>
        specifier === SPECIFIER ? { url: entry, shortCircuit: true } : next(specifier, context),
    });
  } else if (register !== undefined) {
    // Node 20 (before registerHooks): the same hook as a loader module, run off-thread.
    const loader = `export async function resolve(specifier, context, next) {
      return specifier === ${JSON.stringify(SPECIFIER)} ? { url: ${JSON.stringify(entry)}, shortCircuit: true } : next(specifier, context);
    }`;
    register(`data:text/javascript,${encodeURIComponent(loader)}`, import.meta.url);
  } else {
    throw new Error("unisock/sockets/register: this runtime's node:module has neither registerHooks nor register");
  }
}
