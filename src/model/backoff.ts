// Moved to src/common/backoff.ts (the libvirt binding uses it and knows nothing
// of vifd); re-exported so existing imports keep compiling.
export { Backoff } from '../common/backoff.js';
