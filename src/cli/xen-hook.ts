#!/usr/bin/env node
// The Xen vif hotplug hook program (hooks/xen/vif-vifd runs it with the
// toolstack's argv and environment). It reads xenstore through the
// xenstore-* programs on PATH, asks the daemon once over the control socket
// and writes the keys the toolstack waits for. Bounded: libxl kills a hotplug
// script after 40 s, so connecting and the call together stay under 30 s.
import { DEFAULT_SOCKET_PATH, callControl } from '../api/control-client.js';
import { runXenHotplug } from './xen-hotplug-flow.js';
import { XEN_HOTPLUG_METHOD } from '../sources/xen-hotplug/protocol.js';
import type { XenHotplugRequest } from '../sources/xen-hotplug/protocol.js';
import { ProgramXenStore } from '../sources/xen-hotplug/xenstore.js';

/** vifd may be starting: a plug waits this long for its socket; an unplug does not wait. */
const PLUG_CONNECT_TIMEOUT_MS = 5_000;
const UNPLUG_CONNECT_TIMEOUT_MS = 0;
const CALL_TIMEOUT_MS = 25_000;

function bound(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

function ask(request: XenHotplugRequest): Promise<unknown> {
  const socket = process.env.VIFD_SOCKET ?? DEFAULT_SOCKET_PATH;
  const connectTimeoutMs = request.action === 'unplug'
    ? UNPLUG_CONNECT_TIMEOUT_MS
    : bound('VIFD_HOOK_CONNECT_TIMEOUT_MS', PLUG_CONNECT_TIMEOUT_MS);
  // An interface has no index signature; the request is plain JSON data all the same.
  const params: Readonly<Record<string, unknown>> = { ...request };
  return callControl(socket, XEN_HOTPLUG_METHOD, params, { connectTimeoutMs, timeoutMs: bound('VIFD_HOOK_CALL_TIMEOUT_MS', CALL_TIMEOUT_MS) });
}

const log = (line: string): void => { process.stderr.write(`${line}\n`); };

runXenHotplug(process.argv.slice(2), process.env, { store: new ProgramXenStore(process.env), ask, log }).then((code) => { process.exitCode = code; }, (error: unknown) => {
  log(`vifd: xen hook failed: ${(error instanceof Error ? error.message : String(error)).replace(/[\r\n]+/g, ' ')}`);
  process.exitCode = 1;
});
