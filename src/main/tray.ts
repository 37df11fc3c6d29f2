import { join } from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions } from 'electron';
import { trayIconState, trayMenu, trayTooltip, type TrayAction, type TrayHostState } from './tray-menu';

/** Renders the pure tray model (tray-menu.ts) into Electron's tray. */
export class AppTray {
  private readonly tray: Tray;

  constructor(
    private readonly iconsDir: string,
    private readonly onAction: (action: TrayAction) => void,
  ) {
    this.tray = new Tray(this.icon('idle'));
  }

  update(state: TrayHostState): void {
    this.tray.setImage(this.icon(trayIconState(state)));
    this.tray.setToolTip(trayTooltip(state));
    const template: MenuItemConstructorOptions[] = trayMenu(state).map((item) => {
      switch (item.kind) {
        case 'separator':
          return { type: 'separator' };
        case 'label':
          return { label: item.label, enabled: false };
        case 'checkbox':
          return { type: 'checkbox', label: item.label, checked: item.checked, click: () => this.onAction(item.action) };
        case 'item':
          return { label: item.label, enabled: item.enabled, click: () => this.onAction(item.action) };
      }
    });
    this.tray.setContextMenu(Menu.buildFromTemplate(template));
  }

  destroy(): void {
    this.tray.destroy();
  }

  private icon(state: string) {
    return nativeImage.createFromPath(join(this.iconsDir, `tray-${state}.png`));
  }
}
