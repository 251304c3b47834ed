// UI state: what the event stream last said about containers and images.
import { create } from 'zustand';

import type { ContainerInfo, ImageSummary } from '../../electron/core/protocol';
import { api } from './api';

interface BerthState {
  containers: ContainerInfo[] | null;
  images: ImageSummary[] | null;
  error: string | null;
  /** Re-renders relative times ("5 seconds ago") without asking the helper. */
  now: number;
  connect(): () => void;
}

export const useBerth = create<BerthState>((set) => ({
  containers: null,
  images: null,
  error: null,
  now: Date.now(),
  connect() {
    const offC = api.onContainersChanged((containers) => set({ containers, error: null, now: Date.now() }));
    const offI = api.onImagesChanged((images) => set({ images, now: Date.now() }));
    // First data at once (the stream also sends it; whichever comes first wins).
    api.listContainers(true).then(
      (containers) => set((s) => (s.containers ? {} : { containers })),
      (e: Error) => set({ error: e.message }),
    );
    api.listImages().then(
      (images) => set((s) => (s.images ? {} : { images })),
      () => undefined,
    );
    const clock = setInterval(() => set({ now: Date.now() }), 10000);
    return () => {
      offC();
      offI();
      clearInterval(clock);
    };
  },
}));
