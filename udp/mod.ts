/**
 * UDP sockets. Not built yet: `bind` rejects with `not-supported` until the UDP work
 * lands (see the README's runtime table).
 *
 * @module
 */
import { socketError } from "../core/errors.ts";

/**
 * Options of {@linkcode bind}.
 *
 * @example
 * ```ts
 * import type { UdpBindOptions } from "./mod.ts";
 * const options: UdpBindOptions = { hostname: "127.0.0.1", port: 0 };
 * console.log(options.port);
 * ```
 */
export interface UdpBindOptions {
  /** The local address. */
  hostname?: string;
  /** The local port; 0 picks a free one. */
  port?: number;
}

/**
 * Binds a UDP socket. Not built yet: rejects with `not-supported`.
 *
 * @param options Where to bind.
 * @returns Never resolves for now.
 *
 * @example
 * ```ts
 * import { bind } from "./mod.ts";
 * await bind({ port: 0 }).catch((error) => console.log(error.code)); // "not-supported"
 * ```
 */
export function bind(options?: UdpBindOptions): Promise<never> {
  void options;
  return Promise.reject(socketError("not-supported", "udp.bind", "", "UDP is not built yet"));
}
