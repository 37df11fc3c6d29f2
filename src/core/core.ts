import type { Capabilities } from '../shared/contract';
import { probeCapabilities, snapshotCapabilities } from './app/capabilities';
import { appHandlers } from './app/handlers';
import { AuditLog } from './audit/audit-log';
import { createInventoryService } from './inventory/handlers';
import { detectMetricsSource, metricsHandlers } from './metrics/handlers';
import { passthroughHandlers } from './passthrough/handlers';
import { vmHandlers } from './passthrough/vm-handlers';
import { MetricsSampler } from './metrics/sampler';
import { followSessions } from './metrics/session-series';
import { PeersService } from './pairing/peers-service';
import { SessionManager } from './sessions/session-manager';
import { parsePortRange } from './webrtc/port-range';
import { WebRtcService } from './webrtc/webrtc-service';
import { DesktopInputRouter } from './input/desktop-input-router';
import { sessionTypeOf } from './capture/detect';
import { createNutBackend } from './input/injector';
import { SharingService } from './sharing/sharing-service';
import { join } from 'node:path';
import { defaultPaths, type AppPaths } from './paths';
import { Dispatcher } from './rpc/dispatcher';
import { EventHub } from './rpc/event-hub';
import type { Handlers } from './rpc/handlers';
import { memoizeAsync } from './util/memo';
import { recordedGpus, ReplaySource, type SampleTick } from './inventory/snapshot-extras';
import { readOnlyHandlers } from './rpc/read-only';

export interface CoreOptions {
  shell: 'desktop' | 'web';
  paths?: AppPaths;
  env?: NodeJS.ProcessEnv;
  heartbeatMs?: number;
  log?: (line: string) => void;
  /** How to start a local `gpu-bridge peer receive` (the self-test's peer); null where the shell cannot. */
  peerReceiveCommand?: { file: string; args: string[]; env?: NodeJS.ProcessEnv } | null;
  /**
   * A recorded host instead of this one (`gpu-bridge serve --from`): its tree is read for the inventory
   * and passthrough checks, its samples replayed on the dashboard, and every change refused.
   */
  snapshot?: { root: string; meta: { host: string; takenAt: string; source: string | null }; samples: SampleTick[] };
  /** UDP ports WebRTC's ICE may bind (`serve --webrtc-ports`); default GPU_BRIDGE_WEBRTC_PORTS, else 50000-50199. */
  webrtcPorts?: [number, number];
}

export interface Core {
  readonly dispatcher: Dispatcher;
  readonly audit: AuditLog;
  readonly sharing: SharingService;
  /** Paired peers (Peers page): pair, scopes, revoke, control channels; `peers.connectAll()` dials them. */
  readonly peers: PeersService;
  /** GPU metrics: ring buffers, batched events, and `metrics.exporter.render()` for GET /metrics. */
  readonly metrics: MetricsSampler;
  /** Streaming sessions (Sessions page, `gpu-bridge session`). */
  readonly sessions: SessionManager;
  /** Browsers watching sessions over WebRTC (the Watch page). */
  readonly webrtc: WebRtcService;
  readonly events: EventHub;
  readonly paths: AppPaths;
  /** Connected clients across shells, for the heartbeat. */
  /** A shell's client arrived; the function returned says it left (its WebRTC viewers end with it). */
  clientConnected(clientId?: string): () => void;
  dispose(): Promise<void>;
}

/** Builds every core service once; the shells (Electron, web) only carry messages to and from it. */
export function createCore(options: CoreOptions): Core {
  const startedAt = new Date();
  const env = options.env ?? process.env;
  const paths = options.paths ?? defaultPaths(env);
  const events = new EventHub();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const capabilities: () => Promise<Capabilities> = memoizeAsync(() => (options.snapshot ? snapshotCapabilities(options.snapshot.root) : probeCapabilities({ env })), 60_000);
  const disposers: Array<() => void | Promise<void>> = [];
  let clients = 0;

  const audit = new AuditLog(join(paths.stateDir, 'audit.jsonl'));
  const sharing = new SharingService(events, audit);
  // a peer's input goes into the running Wayland capture's own session, or through XTest on X11
  const inputRouter = new DesktopInputRouter(() => sessionTypeOf(env) === 'wayland', createNutBackend);
  const peers = new PeersService({ configDir: paths.configDir, audit, events, sharing, log, inputBackend: async () => inputRouter.backend() });
  disposers.push(() => peers.stopAll('shutdown'));

  // GPU_BRIDGE_HOST_ROOT: a tree that mirrors / (DESIGN.md's snapshot layout) read instead of the live host; tests.
  const snapshot = options.snapshot ?? null;
  const hostRoot = snapshot?.root ?? (env.GPU_BRIDGE_HOST_ROOT || undefined);
  const inventory = createInventoryService({ root: hostRoot, recorded: snapshot ? recordedGpus(snapshot.samples) : undefined, pciIdsFromThisMachine: snapshot !== null });
  const source = snapshot ? (snapshot.samples.length > 0 ? new ReplaySource(snapshot.samples) : null) : detectMetricsSource(env.PATH);
  const metrics = new MetricsSampler({ source, onBatch: (samples) => events.emit('metrics.batch', { samples }) });
  metrics.start().catch((error: unknown) => log(`gpu-bridge: metrics sampler did not start: ${String(error)}`));
  // the NVENC session limits come from the inventory (driver and GPU), for the "sessions exhausted" alert
  inventory.get().then(
    (found) => metrics.exporter.setEncoderSessionLimits(found.gpus.map((gpu) => ({ address: gpu.address, name: gpu.name, limit: typeof gpu.encoderSessionLimit === 'number' ? gpu.encoderSessionLimit : null }))),
    () => undefined,
  );
  disposers.push(() => metrics.stop());
  const maxSessions = Number(env.GPU_BRIDGE_MAX_SESSIONS ?? 4);
  const sessions = new SessionManager({
    peers, sharing, audit, events,
    maxSessions: Number.isInteger(maxSessions) && maxSessions > 0 ? maxSessions : 4,
    defaultDisplay: snapshot ? null : env.DISPLAY || null,
    env,
    configDir: paths.configDir,
    inputRouter,
    peerReceiveCommand: options.peerReceiveCommand ?? null,
    gpuCaps: async () => {
      const gpu = (await inventory.get()).gpus.find((g) => g.vendor === 'nvidia');
      if (!gpu) return null;
      return { vendor: gpu.vendor, encoders: gpu.encoders, nvencSessions: gpu.nvidia?.encoderSessions ?? null, nvencLimit: typeof gpu.encoderSessionLimit === 'number' ? gpu.encoderSessionLimit : null };
    },
  });
  disposers.push(() => sessions.stopAll('shutdown'));
  // browsers watching over WebRTC: ICE on a fixed UDP port range (GPU_BRIDGE_WEBRTC_PORTS, MIN-MAX)
  const webrtc = new WebRtcService({
    sessions, sharing, inputBackend: async () => inputRouter.backend(),
    portRange: options.webrtcPorts ?? parsePortRange(env.GPU_BRIDGE_WEBRTC_PORTS), extraHostAddresses: ['127.0.0.1'], configDir: paths.configDir, audit,
  });
  // Prometheus session series (GET /metrics) from the manager's sessions.second / sessions.changed
  disposers.push(followSessions(events, metrics.exporter.sessions));
  const allHandlers: Handlers = {
    ...inventory.handlers(),
    ...metricsHandlers(metrics),
    ...appHandlers({ shell: options.shell, startedAt, capabilities, snapshot: snapshot?.meta ?? null }),
    ...sharing.handlers(),
    ...peers.handlers(),
    ...passthroughHandlers({ audit, root: hostRoot, snapshot: snapshot !== null }),
    ...vmHandlers({ audit, root: hostRoot, libvirt: { env } }),
    ...sessions.handlers(),
    ...webrtc.handlers(),
  };
  if (snapshot) {
    // a recorded host's desktop session is not in its snapshot: say so rather than describe this machine's
    allHandlers['sessions.sources'] = () => ({
      sessionType: 'none', desktop: null, defaultSource: null, recordedHost: snapshot.meta.host,
      sources: (['x11', 'portal', 'gnome', 'wlroots', 'test'] as const).map((kind) => ({ kind, available: false, detail: `a recorded host (${snapshot.meta.host}): its desktop session is not in the snapshot`, action: null })),
    });
  }
  const handlers = snapshot ? readOnlyHandlers(allHandlers, snapshot.meta) : allHandlers;

  const dispatcher = new Dispatcher(handlers, {
    onInternalError: (method, error) => log(`gpu-bridge: ${method} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
  });

  const heartbeat = setInterval(() => {
    if (events.size === 0) return;
    events.emit('app.heartbeat', {
      time: new Date().toISOString(),
      uptimeSeconds: (Date.now() - startedAt.getTime()) / 1000,
      clients,
    });
  }, options.heartbeatMs ?? 5_000);
  heartbeat.unref();
  disposers.push(() => clearInterval(heartbeat));

  return {
    dispatcher,
    events,
    paths,
    audit,
    sharing,
    peers,
    metrics,
    sessions,
    webrtc,
    clientConnected(clientId) {
      clients += 1;
      let done = false;
      return () => {
        if (!done) clients -= 1;
        if (!done && clientId) webrtc.clientGone(clientId);
        done = true;
      };
    },
    async dispose() {
      for (const dispose of disposers.reverse()) await dispose();
    },
  };
}
