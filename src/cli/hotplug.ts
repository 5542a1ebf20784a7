// `vifctl attach DOMAIN --network NAME [--mac MAC] [--vlan TAG]` and
// `vifctl detach DOMAIN (--index N | --mac MAC)`: hot-plug through the daemon,
// which plans the VIF (next free index, deterministic MAC, the VIF limit),
// prepares TAP and port, and asks libvirt; a refusal rolls everything back.
// At a terminal a progress line shows that vifctl is waiting.
import { parseArgs } from 'node:util';
import type { AttachParams, AttachResult, DetachParams } from '../api/protocol.js';
import { DAEMON_OPTIONS, callDaemon, daemonCallOptions } from './daemon-calls.js';
import type { DaemonCallOptions, Output } from './daemon-calls.js';

export interface AttachOptions extends DaemonCallOptions {
  readonly params: AttachParams;
}

export interface DetachOptions extends DaemonCallOptions {
  readonly params: DetachParams;
}

function parse(argv: readonly string[], extra: Record<string, { type: 'string' }>): { domain: string; values: Record<string, string | boolean | undefined> } {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { ...DAEMON_OPTIONS, ...extra } });
  const [domain, ...rest] = positionals;
  if (domain === undefined || rest.length > 0) throw new Error('expects exactly one DOMAIN (name or UUID)');
  return { domain, values };
}

const common = (values: Record<string, string | boolean | undefined>): DaemonCallOptions => daemonCallOptions({
  json: values.json === true,
  socket: typeof values.socket === 'string' ? values.socket : undefined,
  config: typeof values.config === 'string' ? values.config : undefined,
});

export function parseAttachArgs(argv: readonly string[]): AttachOptions {
  const { domain, values } = parse(argv, { network: { type: 'string' }, mac: { type: 'string' }, vlan: { type: 'string' } });
  if (typeof values.network !== 'string') throw new Error('--network NAME is required');
  // The keys in this order, absent ones left out: the request's JSON is what it always was.
  const params: AttachParams = {
    domain, network: values.network,
    ...(typeof values.mac === 'string' ? { mac: values.mac } : {}), ...(typeof values.vlan === 'string' ? { vlan: values.vlan } : {}),
  };
  return { ...common(values), params };
}

export function parseDetachArgs(argv: readonly string[]): DetachOptions {
  const { domain, values } = parse(argv, { index: { type: 'string' }, mac: { type: 'string' } });
  if ((values.index === undefined) === (values.mac === undefined)) throw new Error('give exactly one of --index N and --mac MAC');
  if (typeof values.index === 'string' && !/^\d{1,3}$/.test(values.index)) throw new Error(`--index ${JSON.stringify(values.index)} is not a VIF index (0-999)`);
  const params: DetachParams = typeof values.index === 'string' ? { domain, index: Number(values.index) } : { domain, mac: String(values.mac) };
  return { ...common(values), params };
}

const describe = (vif: AttachResult): string =>
  `VIF ${vif.index} of VM ${JSON.stringify(vif.domain)}: device ${vif.device}, MAC ${vif.mac}, bridge ${vif.bridge}, VLAN ${vif.vlan}` +
  ` (${vif.persistent ? 'live and persistent' : 'live only: the VM is transient'})`;

/** `call` with the progress line shown meanwhile unless the output is JSON. */
async function waiting<R>(options: DaemonCallOptions, label: string, io: Output, call: (io: Output) => Promise<R>): Promise<R> {
  const stop = options.json ? undefined : io.progress?.(label);
  if (stop === undefined) return call(io);
  // An error is reported inside the call: the line must be erased before it.
  const erasing = { ...io, out: (line: string) => { stop(); io.out(line); }, err: (line: string) => { stop(); io.err(line); } };
  try {
    return await call(erasing);
  } finally {
    stop();
  }
}

export async function runAttach(options: AttachOptions, io: Output): Promise<number> {
  const vif = await waiting(options, `attaching a VIF to VM ${JSON.stringify(options.params.domain)}`, io,
    (shown) => callDaemon(options, 'attach', options.params, shown));
  if (typeof vif === 'number') return vif;
  io.out(options.json ? JSON.stringify({ ok: true, ...vif }) : `attached ${describe(vif)}`);
  return 0;
}

export async function runDetach(options: DetachOptions, io: Output): Promise<number> {
  const vif = await waiting(options, `detaching a VIF from VM ${JSON.stringify(options.params.domain)}`, io,
    (shown) => callDaemon(options, 'detach', options.params, shown));
  if (typeof vif === 'number') return vif;
  if (options.json) io.out(JSON.stringify({ ok: true, ...vif }));
  else if (vif.state === 'removed') io.out(`detached ${describe(vif)}; TAP and port removed`);
  else io.out(`detach requested for ${describe(vif)}; the guest has not released it yet (vifd removes TAP and port when it does; vifctl status shows it)`);
  return 0;
}
