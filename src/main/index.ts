import { join } from 'node:path';
import { app, BrowserWindow, globalShortcut } from 'electron';
import { createCore } from '../core/core';
import { startConfiguredMetricsEndpoint } from '../core/metrics/metrics-endpoint-config';
import { installIpcBridge } from './ipc-bridge';
import { installSecurity, registerAppScheme } from './security';
import { APP_ORIGIN } from './security-policy';
import { AppTray } from './tray';
import type { SessionInfo } from '../shared/contract/sessions';
import { traySessions, type TrayAction, type TrayHostState } from './tray-menu';

const rendererDir = join(__dirname, '../renderer');
const preloadPath = join(__dirname, '../preload/index.cjs');
const iconsDir = app.isPackaged ? join(process.resourcesPath, 'icons') : join(__dirname, '../../resources/icons');

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  registerAppScheme();
  let window: BrowserWindow | null = null;
  let quitting = false;

  const openDashboard = () => {
    if (window && !window.isDestroyed()) {
      if (window.isMinimized()) window.restore();
      window.show();
      window.focus();
      return;
    }
    window = new BrowserWindow({
      width: 1200,
      height: 800,
      show: false,
      title: 'GPU Bridge',
      webPreferences: {
        preload: preloadPath,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        webSecurity: true,
        spellcheck: false,
      },
    });
    window.once('ready-to-show', () => window?.show());
    // Closing the window keeps GPU Bridge in the tray; Quit is in the tray menu.
    window.on('close', (event) => {
      if (!quitting) {
        event.preventDefault();
        window?.hide();
      }
    });
    void window.loadURL(`${APP_ORIGIN}/index.html`);
  };

  app.on('second-instance', openDashboard);

  void app.whenReady().then(() => {
    installSecurity(rendererDir);
    const core = createCore({
      shell: 'desktop',
      // the self-test's local peer: the bundled CLI run by Electron's own Node
      peerReceiveCommand: { file: process.execPath, args: [join(__dirname, '../cli/index.mjs'), 'peer', 'receive', '--headless'], env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } },
    });
    installIpcBridge(core);
    // Prometheus /metrics on a local port when set (GPU_BRIDGE_METRICS_PORT or metrics-endpoint.json).
    const metricsEndpoint = startConfiguredMetricsEndpoint(core.metrics.exporter, { env: process.env, configDir: core.paths.configDir, log: (line) => console.log(line) });
    void core.peers.connectAll();
    const state: TrayHostState = { sharing: core.sharing.sharing, sessions: [], error: null, killSwitchAvailable: true };
    const onAction = (action: TrayAction) => {
      switch (action.type) {
        case 'open-dashboard':
          return openDashboard();
        case 'set-sharing':
          return void core.sharing.set(action.sharing, 'tray');
        case 'kill-switch':
          return void core.sharing.kill('tray');
        case 'stop-session':
          return void core.sessions.stop(action.sessionId, 'tray').catch((error: Error) => console.error(`gpu-bridge: could not stop session ${action.sessionId}: ${error.message}`));
        case 'stop-all-sessions':
          return void core.sessions.stopAll('stopped from the tray');
        case 'quit':
          quitting = true;
          return app.quit();
      }
    };
    const tray = new AppTray(iconsDir, onAction);
    tray.update(state);
    core.events.subscribe((message) => {
      if (message.event === 'sharing.changed') {
        state.sharing = (message.payload as { sharing: boolean }).sharing;
        tray.update(state);
      }
      if (message.event === 'sessions.changed') {
        state.sessions = traySessions(message.payload as SessionInfo[]);
        tray.update(state);
      }
    });
    globalShortcut.register('CommandOrControl+Alt+Shift+K', () => void core.sharing.kill('global shortcut'));
    openDashboard();
    app.on('before-quit', () => {
      quitting = true;
      globalShortcut.unregisterAll();
      tray.destroy();
      void metricsEndpoint.then((endpoint) => endpoint?.close());
      void core.dispose();
    });
  });

  // Tray app: stay alive with no windows.
  app.on('window-all-closed', () => undefined);
}
