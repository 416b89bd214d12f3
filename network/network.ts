/**
 * `Network`: the handle every operation goes through. It binds a driver (the runtime's
 * sockets) and a policy (what this handle may do).
 *
 * @module
 */
import type { IpAddress, IpSocketAddress, ParsedIp, UnixSocketAddress } from "../core/address.ts";
import type { Connection } from "../core/connection.ts";
import { formatSocketAddress, formatUnixPath, parseIp } from "../core/address.ts";
import type { Driver } from "../core/driver.ts";
import { socketError } from "../core/errors.ts";
import type { Listener } from "../core/listener.ts";
import type { AccessRequest, NetworkPolicy } from "./policy.ts";
import { ALLOW_ALL } from "./policy.ts";
import { RulePolicy } from "./capability/compiled.ts";
import { intersectPolicies } from "./capability/intersect.ts";
import type { NetworkPolicyInit } from "./capability/rules.ts";
import { udpPeerFilter } from "./capability/udp_peers.ts";
import type { PeerFilter } from "../udp/bind.ts";
import { normalizeName } from "../resolve/names.ts";
import { bindUdp } from "../udp/bind.ts";
import type { UdpBindOptions } from "../udp/bind.ts";
import type { UdpSocket } from "../udp/socket.ts";
import { resolveName } from "../resolve/resolve.ts";
import type { NamedResolvers, Resolver, ResolveOptions } from "../resolve/resolve.ts";
import { systemResolver } from "../resolve/system.ts";
import { WireResolver } from "../resolve/wire/wire_resolver.ts";
import { connectTcp } from "../tcp/connect.ts";
import type { TcpConnectAddress, TcpConnectOptions } from "../tcp/connect.ts";
import { listenTcp } from "../tcp/listen.ts";
import type { TcpListenOptions } from "../tcp/listen.ts";
import { connectUnix } from "../unix/connect.ts";
import type { UnixConnectOptions } from "../unix/connect.ts";
import { listenUnix } from "../unix/listen.ts";
import type { UnixListenOptions } from "../unix/listen.ts";
import { bindUnixDatagram } from "../unix/bind_datagram.ts";
import type { UnixDatagramBindOptions } from "../unix/bind_datagram.ts";
import type { UnixDatagramSocket } from "../unix/datagram_socket.ts";
import { connectSocket } from "../sockets/connect.ts";
import type { SocketAddress } from "../sockets/address.ts";
import type { Socket, SocketOptions } from "../sockets/socket.ts";

/**
 * The TCP operations of a {@linkcode Network}.
 *
 * @example Using `TcpOperations`
 * ```ts ignore
 * import { tcp } from "../mod.ts";
 * const conn = await tcp.connect({ hostname: "127.0.0.1", port: 8080 });
 * conn.close();
 * ```
 */
export interface TcpOperations {
  /**
   * Connects to `remote`, resolving a name and racing its addresses (Happy Eyeballs).
   *
   * @param remote Host name or IP address, and port.
   * @param options Signal, timeout, socket options.
   * @returns The connection.
   */
  connect(remote: TcpConnectAddress, options?: TcpConnectOptions): Promise<Connection<IpSocketAddress>>;
  /**
   * Listens for connections.
   *
   * @param options Address, port (0 for any free one) and socket options.
   * @returns The listener.
   */
  listen(options: TcpListenOptions): Promise<Listener<IpSocketAddress>>;
}

/**
 * The Sockets API of a {@linkcode Network}: `connect()` of `cloudflare:sockets`, each
 * connection asked of the handle's policy exactly as `tcp.connect` is.
 *
 * @example Give a library the Sockets API, limited to one database
 * ```ts ignore
 * import { createNetwork } from "../mod.ts";
 * const network = createNetwork({ outbound: ["tcp://127.0.0.1:5432"] });
 * const socket = network.sockets.connect("127.0.0.1:5432");
 * await socket.opened;
 * ```
 */
export interface SocketsOperations {
  /**
   * Opens a socket at once; a denied address rejects `opened` with `access-denied`.
   *
   * @param address `"host:port"` or `{ hostname, port }`.
   * @param options `secureTransport`, `allowHalfOpen`, `sni`, `alpn`, `ca`.
   * @returns The socket.
   */
  connect(address: string | SocketAddress, options?: SocketOptions): Socket;
}

/**
 * The UDP operations of a {@linkcode Network}.
 *
 * @example Using `UdpOperations`
 * ```ts ignore
 * import { udp } from "../mod.ts";
 * await using socket = await udp.bind({ hostname: "127.0.0.1", port: 0 });
 * console.log(socket.localAddress.port);
 * ```
 */
export interface UdpOperations {
  /**
   * Binds a UDP socket.
   *
   * @param options Address, port (0 for any free one) and socket options.
   * @returns The socket.
   */
  bind(options?: UdpBindOptions): Promise<UdpSocket>;
}

/**
 * The Unix domain socket operations of a {@linkcode Network}.
 *
 * @example Using `UnixOperations`
 * ```ts ignore
 * import { unix } from "../mod.ts";
 * await using listener = await unix.listen("/tmp/app.sock", { mode: 0o600 });
 * console.log(listener.localAddress.path);
 * ```
 */
export interface UnixOperations {
  /**
   * Connects to a Unix domain socket.
   *
   * @param path The socket file, or `"\0name"` for a Linux abstract name.
   * @param options Signal and timeout.
   * @returns The connection.
   */
  connect(path: string, options?: UnixConnectOptions): Promise<Connection<UnixSocketAddress>>;
  /**
   * Listens on a Unix domain socket, replacing a stale socket file.
   *
   * @param path The socket file, or `"\0name"` for a Linux abstract name.
   * @param options The file's mode, and the backlog.
   * @returns The listener; closing it removes the socket file.
   */
  listen(path: string, options?: UnixListenOptions): Promise<Listener<UnixSocketAddress>>;
  /**
   * Binds a Unix datagram socket (Deno under `--unstable-net`; `not-supported` elsewhere),
   * replacing a stale socket file.
   *
   * @param path The socket file, or `"\0name"` for a Linux abstract name.
   * @param options The socket file's mode.
   * @returns The socket; closing it removes the socket file.
   */
  bindDatagram(path: string, options?: UnixDatagramBindOptions): Promise<UnixDatagramSocket>;
}

/**
 * A handle to some network access: the same operations as the module functions, limited
 * by the handle's policy.
 *
 * @example Using `Network`
 * ```ts ignore
 * import { tcp } from "../mod.ts";
 * await using listener = await tcp.listen({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.localAddress);
 * ```
 */
export class Network {
  /** TCP connect and listen through this handle. */
  readonly tcp: TcpOperations;
  /** Unix domain socket connect and listen through this handle. */
  readonly unix: UnixOperations;
  /** UDP bind through this handle. */
  readonly udp: UdpOperations;
  /** The Sockets API (`connect()` of `cloudflare:sockets`) through this handle. */
  readonly sockets: SocketsOperations;
  readonly #driver: Driver;
  readonly #policy: NetworkPolicy;
  readonly #resolvers: NamedResolvers;
  readonly #resolver: ResolveOptions["resolver"];
  #wire: Resolver | undefined;

  /**
   * Binds a driver and a policy. Internal: the public ways in are the module functions
   * (the ambient network) and `createNetwork`.
   *
   * @param driver The runtime's driver.
   * @param policy What the handle may do.
   * @param fallback The resolver `"wire"` means, and the system resolver's fallback
   *   (a `WireResolver` with the system's configuration when omitted).
   * @param resolver The resolver names are resolved with when a call names none
   *   (`"system"` when omitted).
   */
  constructor(driver: Driver, policy: NetworkPolicy, fallback?: Resolver, resolver?: ResolveOptions["resolver"]) {
    this.#driver = driver;
    this.#policy = policy;
    this.#wire = fallback;
    this.#resolver = resolver;
    const wire = (): Resolver => (this.#wire ??= new WireResolver({}, driver));
    this.#resolvers = { system: systemResolver(driver, wire), wire };
    const resolverFor = (operation: string) => (name: string, signal: AbortSignal | undefined) =>
      this.#resolve(name, { signal }, operation);
    const outbound = (address: ParsedIp, port: number, hostname: string) =>
      this.#check({ kind: "outbound", protocol: "tcp", address, port, hostname }, "tcp.connect", formatSocketAddress({ address: hostname, port }));
    const inbound = (address: ParsedIp, port: number, hostname: string) =>
      this.#check({ kind: "inbound", protocol: "tcp", address, port, hostname }, "tcp.listen", formatSocketAddress({ address: hostname, port }));
    this.tcp = {
      connect: (remote, options) => connectTcp(this.#driver, resolverFor("tcp.connect"), outbound, remote, options),
      listen: (options) => listenTcp(this.#driver, resolverFor("tcp.listen"), inbound, options),
    };
    const unixOutbound = (path: string) => this.#check({ kind: "outbound-unix", path }, "unix.connect", formatUnixPath(path));
    const unixInbound = (path: string) => this.#check({ kind: "inbound-unix", path }, "unix.listen", formatUnixPath(path));
    const unixBindDatagram = (path: string) =>
      this.#check({ kind: "inbound-unix", path }, "unix.bindDatagram", formatUnixPath(path));
    const unixSend = policy === ALLOW_ALL ? undefined : (path: string) =>
      this.#check({ kind: "outbound-unix", path }, "unix.send", formatUnixPath(path));
    this.unix = {
      connect: (path, options) => connectUnix(this.#driver, unixOutbound, path, options),
      listen: (path, options) => listenUnix(this.#driver, unixInbound, path, options),
      bindDatagram: (path, options) => bindUnixDatagram(this.#driver, unixBindDatagram, unixSend, path, options),
    };
    const udpInbound = (address: ParsedIp, port: number, hostname: string): PeerFilter | undefined => {
      const denial = this.#policy.check({ kind: "inbound", protocol: "udp", address, port, hostname });
      if (denial === undefined) return undefined;
      // Port 0 with an outbound UDP rule: a client socket, hearing only peers it may send to.
      if (port === 0 && this.#policy.hasOutbound?.("udp") === true) return udpPeerFilter(this.#policy);
      const client = port === 0 ? "; a client socket on port 0 needs an --allow-outbound=udp:// rule instead" : "";
      throw socketError("access-denied", "udp.bind", formatSocketAddress({ address: hostname, port }), denial + client);
    };
    const udpOutbound = policy === ALLOW_ALL ? undefined : (address: ParsedIp, port: number) =>
      this.#check(
        { kind: "outbound", protocol: "udp", address, port, hostname: address.address },
        "udp.send",
        formatSocketAddress({ address: address.address, port }),
      );
    this.udp = { bind: (options) => bindUdp(this.#driver, resolverFor("udp.bind"), udpInbound, udpOutbound, options) };
    this.sockets = { connect: (address, options) => connectSocket(this.tcp.connect, address, options) };
  }

  /** The driver's name: `node`, `deno` or `bun`. */
  get driverName(): string {
    return this.#driver.name;
  }

  /**
   * Resolves a name to IP addresses (IPv6 and IPv4 interleaved, IPv6 first).
   *
   * @param name A host name, or an IP literal (returned canonical, no query).
   * @param options Family, signal, timeout, resolver.
   * @returns The addresses, never empty.
   */
  resolveAddresses(name: string, options?: ResolveOptions): Promise<IpAddress[]> {
    return this.#resolve(name, options, "resolve");
  }

  /**
   * A narrower handle: it allows what this one allows and `policy` allows too, never
   * more. It keeps this handle's driver and resolver.
   *
   * @param policy Rules in object form or flag strings, as for `createNetwork`.
   * @returns The narrower handle.
   *
   * @example Hand a plugin part of what you were given
   * ```ts
   * import { createNetwork } from "../mod.ts";
   * const app = createNetwork({ outbound: ["tcp://127.0.0.1:*"] });
   * const plugin = app.restrict({ outbound: ["tcp://127.0.0.1:6379", "tcp://*:*"] });
   * // plugin may reach 127.0.0.1:6379 only: "tcp://*:*" cannot widen what app has.
   * console.log(plugin.driverName === app.driverName);
   * ```
   */
  restrict(policy: NetworkPolicyInit): Network {
    const narrowed = intersectPolicies(this.#policy, new RulePolicy(policy, "network.restrict"));
    return new Network(this.#driver, narrowed, this.#wire, this.#resolver);
  }

  /** Checks the name with the policy (after its syntax: `127.1` is invalid, not denied), then resolves. */
  #resolve(name: string, options: ResolveOptions | undefined, operation: string): Promise<IpAddress[]> {
    let chosen = options;
    const plain = options === undefined || (typeof options === "object" && options !== null && options.resolver === undefined);
    if (this.#resolver !== undefined && plain) {
      chosen = { ...options, resolver: this.#resolver };
    }
    if (this.#policy !== ALLOW_ALL && typeof name === "string") {
      try {
        if (parseIp(name) === undefined) normalizeName(name, operation);
        this.#check({ kind: "resolve", name }, operation, name);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return resolveName(this.#resolvers, name, chosen);
  }

  #check(request: AccessRequest, operation: string, target: string): void {
    const denial = this.#policy.check(request);
    if (denial !== undefined) throw socketError("access-denied", operation, target, denial);
  }
}
