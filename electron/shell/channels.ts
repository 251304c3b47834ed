// IPC channel names shared by the main process and the preload.
export const CALL_CHANNEL_PREFIX = 'berth:call:';
export const EVENT_CHANNEL_PREFIX = 'berth:event:';
export const SUBSCRIBE_CHANNEL = 'berth:subscribe';
export const UNSUBSCRIBE_CHANNEL = 'berth:unsubscribe';
