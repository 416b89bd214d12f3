/**
 * A child for the Unix socket permission test: connects to the path in argv[2] with the
 * driver named in argv[3], and prints its uid and `connected` or the error code.
 *
 * @module
 */
import process from "node:process";
import { loadableDrivers } from "../../network/ambient.ts";
import { SocketError } from "../../core/errors.ts";
import { Network } from "../../network/network.ts";
import { ALLOW_ALL } from "../../network/policy.ts";

const [path, driverName] = process.argv.slice(2);
const driver = loadableDrivers().find((candidate) => candidate.name === driverName);
if (driver === undefined) throw new Error(`no ${driverName} driver on this runtime`);
const uid = process.getuid?.() ?? -1;
try {
  const conn = await new Network(driver, ALLOW_ALL).unix.connect(path, { timeout: 5000 });
  conn.close();
  console.log(`uid=${uid} connected`);
} catch (error) {
  console.log(`uid=${uid} ${error instanceof SocketError ? error.code : `not a SocketError: ${String(error)}`}`);
}
