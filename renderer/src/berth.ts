// The app's one store, bound to the real API (preload bridge or web mode).
import { api } from './api';
import { createBerthStore } from './store';

export { api };
export const useBerth = createBerthStore(api);
