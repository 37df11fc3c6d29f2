import type { StateCreator } from 'zustand';
import { PAGES, type AppSlice, type ConnectionSlice, type NavigationSlice, type NoticeSlice, type PageId, type SelftestSlice, type SessionsSlice, type SharingSlice, type StoreState } from './types';

type Slice<T> = StateCreator<StoreState, [], [], T>;

export const createConnectionSlice: Slice<ConnectionSlice> = (set) => ({
  connection: { state: 'connecting', detail: null, lastHeartbeat: null },
  setConnection: (state, detail) => set((s) => ({ connection: { ...s.connection, state, detail } })),
  heartbeat: (time) => set((s) => ({ connection: { ...s.connection, lastHeartbeat: time } })),
});

export const createAppSlice: Slice<AppSlice> = (set) => ({
  info: null,
  infoError: null,
  setInfo: (info) => set({ info, infoError: null }),
  setInfoError: (message) => set({ infoError: message }),
});

export const createSharingSlice: Slice<SharingSlice> = (set) => ({
  sharing: null,
  setSharing: (sharing) => set({ sharing }),
});

export function pageFromHash(hash: string): PageId {
  // a page may carry its own query after its name (#/watch?session=…)
  const id = hash.replace(/^#\/?/, '').split('?')[0]!;
  return (PAGES as readonly string[]).includes(id) ? (id as PageId) : 'dashboard';
}

export const createNavigationSlice: Slice<NavigationSlice> = (set) => ({
  page: typeof window === 'undefined' ? 'dashboard' : pageFromHash(window.location.hash),
  navigate: (page) => {
    if (typeof window !== 'undefined' && pageFromHash(window.location.hash) !== page) window.location.hash = `#/${page}`;
    set({ page });
  },
});

let noticeId = 0;
export const createNoticeSlice: Slice<NoticeSlice> = (set) => ({
  notices: [],
  notify: (kind, text) => set((s) => ({ notices: [...s.notices.slice(-4), { id: ++noticeId, kind, text }] })),
  dismiss: (id) => set((s) => ({ notices: s.notices.filter((notice) => notice.id !== id) })),
});

export const createSessionsSlice: Slice<SessionsSlice> = (set) => ({
  sessions: null,
  setSessions: (sessions) => set({ sessions }),
});

export const createSelftestSlice: Slice<SelftestSlice> = (set) => ({
  selftest: { running: false, request: null, startedAt: null, result: null, error: null },
  selftestStarted: (request, at) => set({ selftest: { running: true, request, startedAt: at, result: null, error: null } }),
  selftestFinished: (outcome) =>
    set((s) => ({ selftest: { ...s.selftest, running: false, result: 'result' in outcome ? outcome.result : null, error: 'error' in outcome ? outcome.error : null } })),
});
