import type { AppInfo, SharingState } from '../../../shared/contract';
import type { ConnectionState } from '../api/transport';

export const PAGES = ['dashboard', 'gpus', 'passthrough', 'sessions', 'peers', 'settings'] as const;
export type PageId = (typeof PAGES)[number];

export interface ConnectionSlice {
  connection: { state: ConnectionState; detail: string | null; lastHeartbeat: string | null };
  setConnection(state: ConnectionState, detail: string | null): void;
  heartbeat(time: string): void;
}

export interface AppSlice {
  info: AppInfo | null;
  infoError: string | null;
  setInfo(info: AppInfo): void;
  setInfoError(message: string): void;
}

export interface SharingSlice {
  sharing: SharingState | null;
  setSharing(state: SharingState): void;
}

export interface NavigationSlice {
  page: PageId;
  navigate(page: PageId): void;
}

export interface NoticeSlice {
  notices: Array<{ id: number; kind: 'error' | 'info'; text: string }>;
  notify(kind: 'error' | 'info', text: string): void;
  dismiss(id: number): void;
}

export type StoreState = ConnectionSlice & AppSlice & SharingSlice & NavigationSlice & NoticeSlice;
