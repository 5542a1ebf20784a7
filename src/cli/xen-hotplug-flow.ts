// One run of the Xen vif hotplug hook: parse the invocation, read and
// validate what xenstore holds, ask the daemon once (bounded), write the
// result keys. Fail closed: a plug vifd cannot confirm is refused; an unplug
// always lets the toolstack go on (vifd's GC removes a port left behind).
import { DaemonUnavailableError } from '../api/errors.js';
import { VifdError, mergeContext } from '../model/errors.js';
import type { ErrorContext } from '../model/errors.js';
import { parseBackendPath, parseHotplugInvocation } from '../sources/xen-hotplug/invocation.js';
import type { HotplugEnv, HotplugInvocation } from '../sources/xen-hotplug/invocation.js';
import { parseXenHotplugResult } from '../sources/xen-hotplug/protocol.js';
import type { XenHotplugRequest, XenHotplugResult } from '../sources/xen-hotplug/protocol.js';
import { buildPlugRequest, buildUnplugRequest, readHotplugContext } from '../sources/xen-hotplug/read-request.js';
import type { HotplugContext } from '../sources/xen-hotplug/read-request.js';
import { refusalKeys, successKeys } from '../sources/xen-hotplug/result-keys.js';
import type { KeyChanges } from '../sources/xen-hotplug/result-keys.js';
import type { XenStore } from '../sources/xen-hotplug/xenstore.js';

export interface XenHookDeps {
  readonly store: XenStore;
  /** Sends the request to the daemon and resolves with its raw result (bounded by the caller). */
  readonly ask: (request: XenHotplugRequest) => Promise<unknown>;
  /** One line for the toolstack's log (stderr). */
  readonly log: (line: string) => void;
}

const oneLine = (text: string): string => text.replace(/[\r\n]+/g, ' ');
const messageOf = (error: unknown): string => oneLine(error instanceof Error ? error.message : String(error));

async function apply(store: XenStore, changes: KeyChanges): Promise<void> {
  for (const path of changes.remove) await store.rm(path);
  await store.writeAll(changes.write);
}

function withSubject(error: unknown, context: ErrorContext): unknown {
  return error instanceof VifdError ? error.withContext(context) : error;
}

/** Exit status of the hook: 0 done (or nothing to do), 1 refused or failed. */
export async function runXenHotplug(argv: readonly string[], env: HotplugEnv, deps: XenHookDeps): Promise<number> {
  let invocation: HotplugInvocation;
  try {
    invocation = parseHotplugInvocation(argv, env);
  } catch (error) {
    return refuseUnparsed(error, env, deps);
  }
  if (invocation.action === 'ignore') return 0;
  const who = `${invocation.device} (domain ${invocation.domid})`;
  let context: HotplugContext | undefined;
  try {
    context = await readHotplugContext(deps.store, invocation);
    const subject = mergeContext({ vifIndex: invocation.devid }, { domain: context.vm?.name, vmUuid: context.vm?.uuid });
    const request = invocation.action === 'unplug'
      ? buildUnplugRequest(invocation, context)
      : await buildPlugRequest(deps.store, invocation, context).catch((error: unknown) => { throw withSubject(error, subject); });
    return await askAndReport(invocation, context, request, deps, who);
  } catch (error) {
    if (invocation.action === 'unplug') {
      deps.log(`vifd: ${invocation.command} ${who}: ${messageOf(error)}; vifd's GC removes a port left behind`);
      return 0;
    }
    return refuse(invocation.backendPath, context?.toolstack, `${invocation.command} ${who}`, messageOf(error), deps);
  }
}

async function askAndReport(invocation: HotplugInvocation, context: HotplugContext, request: XenHotplugRequest, deps: XenHookDeps, who: string): Promise<number> {
  let result: XenHotplugResult;
  try {
    result = parseXenHotplugResult(await deps.ask(request));
  } catch (error) {
    if (invocation.action !== 'unplug') {
      const reason = error instanceof DaemonUnavailableError
        ? `vifd is not running (${messageOf(error)}); start vifd first`
        : messageOf(error);
      return refuse(invocation.backendPath, context.toolstack, `${invocation.command} ${who}`, reason, deps);
    }
    const why = error instanceof DaemonUnavailableError ? 'vifd is not running' : messageOf(error);
    deps.log(`vifd: ${invocation.command} ${who}: ${why}; vifd's GC removes its port when it runs`);
    await apply(deps.store, successKeys(invocation, context));
    return 0;
  }
  await apply(deps.store, successKeys(invocation, context));
  const where = result.bridge === undefined ? '' : ` on ${result.bridge}${result.vlan === undefined ? '' : ` VLAN ${result.vlan}`}`;
  deps.log(`vifd: ${invocation.command} ${who}: ${result.outcome}${where}`);
  return 0;
}

async function refuse(backendPath: string, toolstack: HotplugContext['toolstack'] | undefined, what: string, reason: string, deps: XenHookDeps): Promise<number> {
  deps.log(`vifd: refused ${what}: ${reason}`);
  try {
    await apply(deps.store, refusalKeys(backendPath, toolstack, reason));
  } catch (error) {
    deps.log(`vifd: could not record the refusal in xenstore: ${messageOf(error)}`);
  }
  return 1;
}

/** An invocation vifd cannot read: refused, and recorded in the backend node when XENBUS_PATH at least is usable. */
async function refuseUnparsed(error: unknown, env: HotplugEnv, deps: XenHookDeps): Promise<number> {
  const reason = messageOf(error);
  let backendPath: string | undefined;
  try {
    if (env.XENBUS_PATH !== undefined) {
      const { kind, domid, devid } = parseBackendPath(env.XENBUS_PATH);
      backendPath = `backend/${kind}/${domid}/${devid}`;
    }
  } catch {
    backendPath = undefined; // the path itself is what is wrong; nowhere safe to write
  }
  if (backendPath === undefined) {
    deps.log(`vifd: refused: ${reason}`);
    return 1;
  }
  return refuse(backendPath, undefined, 'the hotplug call', reason, deps);
}
