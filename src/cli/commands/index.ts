import type { CliCommand } from '../command';
import { infoCommand } from './info';
import { serveCommand } from './serve';

/** Every `gpu-bridge` command. A new command is a new file in this folder and one line here. */
export const commands: CliCommand[] = [serveCommand, infoCommand];
