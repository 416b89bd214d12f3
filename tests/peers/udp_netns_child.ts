/**
 * Runs inside a network namespace made by tests/udp_netns_test.ts (lo up, a multicast
 * route on lo), so no datagram can leave the machine. Argument: the driver name.
 * Prints one JSON line with what it saw.
 */
import { loadableDrivers } from "../../network/ambient.ts";
import { SocketError } from "../../core/errors.ts";
import { Network } from "../../network/network.ts";
import { ALLOW_ALL } from "../../network/policy.ts";

const driver = loadableDrivers().find((d) => d.name === process.argv[process.argv.length - 1]);
if (driver === undefined) throw new Error(`no driver ${process.argv.at(-1)}`);
const net = new Network(driver, ALLOW_ALL);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);
const GROUP = "239.255.10.1";

async function receiveOne(socket: Awaited<ReturnType<typeof net.udp.bind>>): Promise<string> {
  try {
    return text((await socket.receive({ signal: AbortSignal.timeout(2000) })).data);
  } catch (error) {
    return error instanceof SocketError ? error.code : "nothing";
  }
}

const result: Record<string, string> = {};
{
  // Multicast: join on the loopback interface, send to the group, receive it.
  await using receiver = await net.udp.bind({ hostname: "0.0.0.0", port: 0 });
  await receiver.joinMulticast(GROUP, "127.0.0.1");
  await using sender = await net.udp.bind({ hostname: "127.0.0.1" });
  sender.setMulticastTtl(1);
  sender.setMulticastLoopback(true);
  await sender.send(bytes("to the group"), { address: GROUP, port: receiver.localAddress.port });
  result.multicast = await receiveOne(receiver);
  await receiver.leaveMulticast(GROUP, "127.0.0.1");
  await sender.send(bytes("after leaving"), { address: GROUP, port: receiver.localAddress.port });
  result.afterLeave = await receiveOne(receiver);
}
{
  // Broadcast: refused without SO_BROADCAST, delivered with it.
  await using receiver = await net.udp.bind({ hostname: "0.0.0.0", port: 0 });
  await using sender = await net.udp.bind({ hostname: "127.0.0.1" });
  const to = { address: "127.255.255.255", port: receiver.localAddress.port };
  try {
    await sender.send(bytes("not allowed"), to);
    result.broadcastOff = "sent";
  } catch (error) {
    result.broadcastOff = error instanceof SocketError ? error.code : String(error);
  }
  try {
    sender.setBroadcast(true);
    await sender.send(bytes("to everyone"), to);
    result.broadcastOn = await receiveOne(receiver);
  } catch (error) {
    result.broadcastOn = error instanceof SocketError ? error.code : String(error);
  }
}
console.log(JSON.stringify(result));
