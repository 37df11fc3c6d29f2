import type { AppInfo, SelftestResult, SessionInfo, SharingState } from '../../../shared/contract';
import type { ConnectionState } from '../api/transport';
import type { TransportName } from '../../../shared/transports';

export const PAGES = ['dashboard', 'gpus', 'passthrough', 'sessions', 'peers', 'settings', 'watch'] as const;
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

export interface SessionsSlice {
  /** The host's streaming sessions (sessions.list, then sessions.changed); null until read. */
  sessions: SessionInfo[] | null;
  setSessions(list: SessionInfo[]): void;
}

export interface SelftestRequest {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  transport?: TransportName;
  source?: 'x11' | 'portal' | 'gnome' | 'wlroots' | 'test';
}

/** The "how fast is this machine" self-test: kept in the store so it survives leaving the page. */
export interface SelftestSlice {
  selftest: {
    running: boolean;
    /** What is running or last ran, and when it was started (ms since the epoch). */
    request: SelftestRequest | null;
    startedAt: number | null;
    result: SelftestResult | null;
    error: string | null;
  };
  selftestStarted(request: SelftestRequest, at: number): void;
  selftestFinished(outcome: { result: SelftestResult } | { error: string }): void;
}

export type StoreState = ConnectionSlice & AppSlice & SharingSlice & NavigationSlice & NoticeSlice & SessionsSlice & SelftestSlice;
