import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCore, type CoreOptions } from '../../core/core';
import { openSnapshot } from '../../core/inventory/snapshot';
import { readSnapshotMeta, readSnapshotSamples } from '../../core/inventory/snapshot-extras';
import { createSelfSignedIdentity, formatFingerprint } from '../../core/crypto/self-signed';
import { isLoopback, startWebServer } from '../../server/web-server';
import { parsePortRange } from '../../core/webrtc/port-range';
import { parseCommandArgs, parsePort } from '../args';
import { CliError, type CliCommand } from '../command';

/** The built renderer: next to the bundled CLI (out/cli → out/renderer). */
export function defaultRendererDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '../renderer'), resolve(here, '../../out/renderer'), resolve(here, '../../../out/renderer')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'serve the UI and API to a browser (headless mode)',
  usage: 'gpu-bridge serve [--port N] [--listen ADDR] [--token T] [--renderer-dir DIR] [--from SNAPSHOT_DIR_OR_TAR_GZ] [--webrtc-ports MIN-MAX]',
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        port: { type: 'string' },
        listen: { type: 'string' },
        token: { type: 'string' },
        'renderer-dir': { type: 'string' },
        from: { type: 'string' },
        'webrtc-ports': { type: 'string' },
      },
      this.usage,
    );
    const port = parsePort(values.port, 8765);
    const host = values.listen ?? '127.0.0.1';
    if (values.token !== undefined && !/^[A-Za-z0-9_-]{16,128}$/.test(values.token)) {
      throw new CliError('--token must be 16 to 128 characters of A-Z a-z 0-9 _ -', 2);
    }
    let webrtcPorts: [number, number] | undefined;
    try {
      // browsers watching over WebRTC reach ICE on these UDP ports: open them in the firewall
      webrtcPorts = values['webrtc-ports'] === undefined ? undefined : parsePortRange(values['webrtc-ports']);
    } catch (error) {
      throw new CliError(`--webrtc-ports: ${(error as Error).message}`, 2);
    }
    const rendererDir = values['renderer-dir'] ?? defaultRendererDir();
    if (!existsSync(join(rendererDir, 'index.html'))) {
      process.stderr.write(`gpu-bridge serve: warning: no built UI in ${rendererDir} (run \`npm run build\`); the API still works.\n`);
    }
    let tls: { keyPem: string; certPem: string } | undefined;
    if (!isLoopback(host)) {
      const identity = await createSelfSignedIdentity({ commonName: 'gpu-bridge serve', altNames: [host, 'localhost'], validDays: 30 });
      tls = identity;
      process.stdout.write(`TLS 1.3 with a self-signed certificate, SHA-256 fingerprint ${formatFingerprint(identity.fingerprint)}\n`);
    }
    const recorded = values.from === undefined ? null : await openRecordedHost(values.from);
    const core = createCore({ shell: 'web', peerReceiveCommand: recorded ? null : { file: process.execPath, args: [process.argv[1]!, 'peer', 'receive', '--headless'] }, snapshot: recorded?.snapshot, webrtcPorts });
    let server;
    try {
      server = await startWebServer({
        core,
        rendererDir,
        host,
        port,
        tls,
        token: values.token,
        routes: {
          // Prometheus scrapes with `Authorization: Bearer <token>` (or ?token=).
          '/metrics': async (_request, response) => {
            const body = await core.metrics.exporter.render();
            response.writeHead(200, { 'Content-Type': core.metrics.exporter.contentType, 'Cache-Control': 'no-store' });
            response.end(body);
          },
        },
      });
    } catch (error) {
      await core.dispose();
      await recorded?.close();
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new CliError(`port ${port} on ${host} is already in use; pick another with --port (0 = any free port)`);
      if (code === 'EADDRNOTAVAIL') throw new CliError(`${host} is not an address of this machine`);
      throw new CliError((error as Error).message);
    }
    // The host dials its paired peers (the cloud side listens, so this host needs no open port); a
    // recorded host dials nobody.
    if (!recorded) core.peers.connectAll().catch((error: unknown) => process.stderr.write(`gpu-bridge serve: could not dial paired peers: ${String(error)}\n`));
    // Handlers first: a script may signal us as soon as it reads the listening line.
    const stopped = new Promise<void>((resolveStop) => {
      const stop = (signal: string) => {
        process.stdout.write(`received ${signal}, stopping\n`);
        resolveStop();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    if (recorded) {
      const { meta, samples } = recorded.snapshot;
      process.stdout.write(`Serving a snapshot of ${meta.host} taken ${meta.takenAt}, read-only (${samples.length > 0 ? `${samples.length} recorded samples replayed on the dashboard` : 'no recorded samples'}).\n`);
    }
    process.stdout.write(`GPU Bridge is serving its UI. Open:\n  ${server.url}\n`);
    process.stdout.write(`listening on ${server.origin}\n`);
    await stopped;
    await server.close();
    await core.dispose();
    await recorded?.close();
    return 0;
  },
};

/** A snapshot folder or .tar.gz opened for `serve --from`, with whose it is, when, and its samples. */
async function openRecordedHost(path: string): Promise<{ snapshot: NonNullable<CoreOptions['snapshot']>; close(): Promise<void> }> {
  let opened;
  try {
    opened = await openSnapshot(path);
  } catch (error) {
    throw new CliError(`--from: cannot open ${path}: ${(error as Error).message} (a folder or .tar.gz as \`gpu-bridge snapshot\` writes)`);
  }
  const meta = await readSnapshotMeta(opened.root);
  const samples = await readSnapshotSamples(opened.root);
  return {
    snapshot: {
      root: opened.root,
      // older snapshots carry no snapshot.json: say so rather than guess
      meta: { host: meta?.host ?? 'an unnamed host', takenAt: meta?.takenAt ?? 'at an unknown time', source: meta?.source ?? null },
      samples,
    },
    close: () => opened.close(),
  };
}
