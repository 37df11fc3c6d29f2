import type { CliCommand } from '../command';
import { infoCommand } from './info';
import { inventoryCommand } from './inventory';
import { connectCommand, pairCommand } from './pair';
import { passthroughCommand } from './passthrough';
import { peerCommand } from './peer';
import { serveCommand } from './serve';
import { sessionCommand } from './session';
import { snapshotCommand } from './snapshot';

/** Every `gpu-bridge` command. A new command is a new file in this folder and one line here. */
export const commands: CliCommand[] = [serveCommand, infoCommand, inventoryCommand, snapshotCommand, passthroughCommand, peerCommand, pairCommand, connectCommand, sessionCommand];
