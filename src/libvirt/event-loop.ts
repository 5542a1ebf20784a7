// libvirt's default event loop (virEventRunDefaultImpl) driven on a worker
// thread through koffi's async calls, one iteration at a time, while any
// connection needs it. libvirt callbacks fired from that thread are run by
// koffi on Node's main thread, so event handlers never race with other JS.
// Releasing the last user wakes the loop with a zero timeout so the process
// can exit instead of waiting in poll().
import { ErrorFunc, TimeoutCallback, api, register } from './ffi.js';

let registered = false;
let users = 0;
let running: Promise<void> | null = null;
let wakeCallback: bigint | null = null;
let errorFuncCallback: bigint | null = null;

function registerOnce(): void {
  if (registered) return;
  // libvirt prints every error to stderr unless an error function is set; vifd
  // reads errors itself (virConnCopyLastError) and reports them typed.
  errorFuncCallback = register(() => undefined, ErrorFunc);
  api.setErrorFunc(null, errorFuncCallback);
  if (api.eventRegisterDefaultImpl() < 0) throw new Error('virEventRegisterDefaultImpl failed');
  registered = true;
}

function iterate(resolve: () => void): void {
  api.eventRunDefaultImpl.async(() => {
    if (users > 0) iterate(resolve);
    else resolve();
  });
}

/** Must be called before a connection is opened; pairs with releaseEventLoop. */
export function acquireEventLoop(): void {
  registerOnce();
  users++;
  running ??= new Promise<void>((resolve) => { iterate(resolve); }).then(() => { running = null; });
}

export async function releaseEventLoop(): Promise<void> {
  users = Math.max(0, users - 1);
  if (users > 0 || running === null) return;
  wakeCallback ??= register((timer: number) => { api.eventRemoveTimeout(timer); }, TimeoutCallback);
  api.eventAddTimeout(0, wakeCallback, null, null);
  await running;
}

export const eventLoopUsers = (): number => users;
