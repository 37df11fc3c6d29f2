import { create } from 'zustand';
import { createAppSlice, createConnectionSlice, createNavigationSlice, createNoticeSlice, createSelftestSlice, createSessionsSlice, createSharingSlice } from './slices';
import type { StoreState } from './types';

export const useStore = create<StoreState>()((...a) => ({
  ...createConnectionSlice(...a),
  ...createAppSlice(...a),
  ...createSharingSlice(...a),
  ...createNavigationSlice(...a),
  ...createNoticeSlice(...a),
  ...createSessionsSlice(...a),
  ...createSelftestSlice(...a),
}));

export type { StoreState, PageId } from './types';
