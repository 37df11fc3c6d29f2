import { create } from 'zustand';
import { createAppSlice, createConnectionSlice, createNavigationSlice, createNoticeSlice, createSharingSlice } from './slices';
import type { StoreState } from './types';

export const useStore = create<StoreState>()((...a) => ({
  ...createConnectionSlice(...a),
  ...createAppSlice(...a),
  ...createSharingSlice(...a),
  ...createNavigationSlice(...a),
  ...createNoticeSlice(...a),
}));

export type { StoreState, PageId } from './types';
