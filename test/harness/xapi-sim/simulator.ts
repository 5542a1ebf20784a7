// A wire-level XAPI simulator for tests, written from research/xen-xapi.md
// (no XAPI code): one pool database served on TCP ports and unix sockets,
// event.from long-poll with tokens, fault injection, and the xenopsd seam.
// Tests build fixtures with the add* methods and hold uuids: refs change when
// the simulator "restarts".
import { randomUUID } from 'node:crypto';
import { SimActions } from './actions.js';
import { XapiFailure } from './failure.js';
import { MethodTable } from './methods.js';
import type { CallContext, MethodHost, Session } from './methods.js';
import { CLASSES, NULL_REF, canonicalClass } from './schema.js';
import type { SimClass, SimRecord } from './schema.js';
import { SimListener } from './server.js';
import type { SimTls } from './server.js';
import { SimStore, formatToken, newRef, parseToken } from './store.js';
import type { XenopsdHooks } from './xenopsd.js';

export interface SimHostSpec {
  readonly name: string;
  /** What HOST_IS_SLAVE names; xen-api keeps its port and swaps only the host name. */
  readonly address: string;
}

export interface XapiSimulatorOptions {
  /** TCP logins; unix-socket logins are local and need no password. Default root/secret. */
  readonly users?: Readonly<Record<string, string>>;
  /** What VM.get_allowed_VIF_devices offers: 7 (xapi before v25.29) or 16. Default 16. */
  readonly vifDevices?: 7 | 16;
  /** The pool's hosts, the first is the master. Default host-a 127.0.0.1 and host-b 127.0.0.2. */
  readonly hosts?: readonly SimHostSpec[];
  readonly hooks?: XenopsdHooks;
  /** The first domid VM.start gives (default 1): tests that make vifD.N devices pick one no other run uses. */
  readonly firstDomid?: number;
}

export interface Handle {
  readonly ref: string;
  readonly uuid: string;
}

const DEFAULT_HOSTS: readonly SimHostSpec[] = [{ name: 'host-a', address: '127.0.0.1' }, { name: 'host-b', address: '127.0.0.2' }];

export class XapiSimulator implements MethodHost {
  readonly store = new SimStore();
  readonly sessions = new Map<string, Session>();
  readonly actions: SimActions;
  /** Method names in the order they arrived, for tests that count logins or refetches. */
  readonly calls: string[] = [];
  hooks: XenopsdHooks;
  vifDevices: number;
  private readonly users: Readonly<Record<string, string>>;
  private readonly methods: MethodTable;
  private readonly listeners = new Set<SimListener>();
  private readonly waiters = new Set<() => void>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly poolUuid: string;
  readonly hostUuids: readonly string[];
  private stopping = false;
  private eventsLost = false;
  private lastDomid = 0;

  constructor(options: XapiSimulatorOptions = {}) {
    this.users = options.users ?? { root: 'secret' };
    this.vifDevices = options.vifDevices ?? 16;
    this.hooks = options.hooks ?? {};
    this.lastDomid = (options.firstDomid ?? 1) - 1;
    this.actions = new SimActions({
      store: this.store,
      hooks: () => this.hooks,
      vifDevices: () => this.vifDevices,
      defaultHost: () => this.store.text('pool', this.pool.ref, 'master'),
      nextDomid: () => (this.lastDomid += 1),
    });
    this.methods = new MethodTable(this);
    this.store.onChange(() => { this.wakeAll(); });
    const hosts = (options.hosts ?? DEFAULT_HOSTS).map((spec) => this.addHost(spec));
    this.hostUuids = hosts.map((host) => host.uuid);
    this.poolUuid = randomUUID();
    this.store.create('pool', { name_label: 'vifd-sim', master: hosts[0]?.ref ?? NULL_REF }, this.poolUuid);
  }

  private addHost(spec: SimHostSpec): Handle {
    const ref = this.store.create('host', { name_label: spec.name, hostname: spec.name, address: spec.address });
    const dom0 = this.store.create('VM', {
      name_label: `Control domain on host: ${spec.name}`, is_control_domain: true, power_state: 'Running', domid: 0,
      resident_on: ref, domain_type: 'pv',
    });
    this.store.update('host', ref, (host) => {
      host.control_domain = dom0;
      host.resident_VMs = [dom0];
    });
    return { ref, uuid: this.store.text('host', ref, 'uuid') };
  }

  handle(cls: SimClass, uuid: string): Handle {
    return { ref: this.store.byUuid(cls, uuid), uuid };
  }

  get pool(): Handle {
    return this.handle('pool', this.poolUuid);
  }

  host(index: number): Handle {
    const uuid = this.hostUuids[index];
    if (uuid === undefined) throw new Error(`xapi-sim: no host ${index}`);
    return this.handle('host', uuid);
  }

  record(cls: SimClass, uuid: string): SimRecord {
    return this.store.get(cls, this.store.byUuid(cls, uuid));
  }

  // ---- listeners -------------------------------------------------------

  /** Port 0 picks a free port; `tls` makes it https. */
  async listenTcp(host = '127.0.0.1', port = 0, tls?: SimTls): Promise<SimListener> {
    return this.track(await SimListener.open(this.dispatch, { host, port, tls }));
  }

  async listenUnix(path: string): Promise<SimListener> {
    return this.track(await SimListener.open(this.dispatch, { path }));
  }

  /** Closes one listener (xapi down for a while); listen again on the same port or path to bring it back. */
  async closeListener(listener: SimListener): Promise<void> {
    this.listeners.delete(listener);
    await listener.close();
  }

  private track(listener: SimListener): SimListener {
    this.listeners.add(listener);
    return listener;
  }

  private readonly dispatch = (method: string, params: readonly unknown[], call: CallContext): Promise<unknown> => {
    this.calls.push(method);
    const work = this.methods.call(method, params, call);
    this.inFlight.add(work);
    const forget = (): void => { this.inFlight.delete(work); };
    work.then(forget, forget);
    return work;
  };

  /** Answers pending event.from calls with empty batches (clients then stop promptly), then closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeAll();
    await Promise.allSettled([...this.inFlight]);
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([...this.listeners].map((listener) => listener.close()));
    this.listeners.clear();
  }

  // ---- sessions and events (MethodHost) ---------------------------------

  login(user: string, password: string, transport: 'tcp' | 'unix'): string {
    // Local logins over the unix socket are trusted without a password, as xapi does.
    if (transport === 'tcp' && this.users[user] !== password) throw new XapiFailure('SESSION_AUTHENTICATION_FAILED', []);
    const session = newRef();
    this.sessions.set(session, { user });
    return session;
  }

  eventInject(cls: string, ref: string): string {
    const known = canonicalClass(cls);
    if (known === undefined) throw new XapiFailure('HANDLE_INVALID', [cls, ref]);
    return this.store.touch(known, ref);
  }

  async eventFrom(session: string, classes: unknown, token: unknown, timeout: unknown): Promise<unknown> {
    if (!Array.isArray(classes) || classes.some((name) => typeof name !== 'string')) throw new XapiFailure('FIELD_TYPE_ERROR', ['classes']);
    if (typeof token !== 'string') throw new XapiFailure('FIELD_TYPE_ERROR', ['token']);
    if (typeof timeout !== 'number') throw new XapiFailure('FIELD_TYPE_ERROR', ['timeout']);
    const since = parseToken(token);
    const names = classes as string[];
    const wanted = new Set<SimClass>(names.includes('*') ? CLASSES : names.flatMap((name) => canonicalClass(name) ?? []));
    const deadline = Date.now() + Math.max(0, timeout) * 1000;
    for (;;) {
      if (!this.sessions.has(session)) throw new XapiFailure('SESSION_INVALID', [session]);
      if (this.eventsLost) {
        this.eventsLost = false;
        throw new XapiFailure('EVENTS_LOST', []);
      }
      const events = this.stopping ? [] : this.store.eventsSince(since, wanted);
      const remaining = deadline - Date.now();
      if (events.length > 0 || remaining <= 0 || this.stopping) {
        return { events, valid_ref_counts: this.store.validRefCounts(), token: formatToken(this.store.generation) };
      }
      await this.waitForChange(remaining);
    }
  }

  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  // ---- fault injection --------------------------------------------------

  /** The next event.from (and any pending one) fails with EVENTS_LOST. */
  loseEvents(): void {
    this.eventsLost = true;
    this.wakeAll();
  }

  /** Every session becomes invalid (SESSION_INVALID), as after a session timeout. */
  expireSessions(): void {
    this.sessions.clear();
    this.wakeAll();
  }

  /** xapi restarts and loses its refs: connections drop, sessions go, every object gets a new ref (same uuid). */
  restart(): void {
    this.sessions.clear();
    for (const listener of this.listeners) listener.dropConnections();
    this.store.renewRefs();
    this.wakeAll();
  }

  // ---- fixtures ---------------------------------------------------------

  private pifOn(networkRef: string, hostRef: string): string | undefined {
    return this.store.refs('PIF').find((pif) => this.store.field('PIF', pif, 'network') === networkRef && this.store.field('PIF', pif, 'host') === hostRef);
  }

  private addPif(hostRef: string, fields: SimRecord): string {
    const pif = this.store.create('PIF', { ...fields, host: hostRef });
    this.store.update('host', hostRef, (host) => { host.PIFs = [...(host.PIFs as string[]), pif]; });
    this.store.update('network', fields.network, (network) => { network.PIFs = [...(network.PIFs as string[]), pif]; });
    return pif;
  }

  /** A physical network: a bridge (xenbr<N>) with one physical PIF on every host. */
  addNetwork(options: { name: string; bridge: string; device?: string; mtu?: number }): Handle {
    const ref = this.store.create('network', { name_label: options.name, bridge: options.bridge, MTU: options.mtu ?? 1500 });
    for (const hostRef of this.store.refs('host')) {
      this.addPif(hostRef, { network: ref, device: options.device ?? 'eth0', MTU: options.mtu ?? 1500, MAC: '', management: false });
    }
    return { ref, uuid: this.store.text('network', ref, 'uuid') };
  }

  /** A VLAN network on `parent`: a VLAN PIF and a VLAN object on every host (bridge e.g. xapi3, a fake bridge). */
  addVlanNetwork(options: { name: string; bridge: string; parent: string; tag: number }): Handle {
    const parent = this.store.row('network', options.parent).ref;
    const ref = this.store.create('network', { name_label: options.name, bridge: options.bridge, MTU: Number(this.store.field('network', parent, 'MTU')) });
    for (const hostRef of this.store.refs('host')) {
      const tagged = this.pifOn(parent, hostRef);
      if (tagged === undefined) continue;
      const device = this.store.text('PIF', tagged, 'device');
      const untagged = this.addPif(hostRef, { network: ref, device, VLAN: options.tag, physical: false, MTU: Number(this.store.field('PIF', tagged, 'MTU')) });
      const vlan = this.store.create('VLAN', { tagged_PIF: tagged, untagged_PIF: untagged, tag: options.tag });
      this.store.update('PIF', untagged, (pif) => { pif.VLAN_master_of = vlan; });
      this.store.update('PIF', tagged, (pif) => { pif.VLAN_slave_of = [...(pif.VLAN_slave_of as string[]), vlan]; });
    }
    return { ref, uuid: this.store.text('network', ref, 'uuid') };
  }

  /** A halted VM; like VM.create it gets other_config.mac_seed unless one is given. */
  addVm(options: { name: string; otherConfig?: Record<string, string>; domainType?: string }): Handle {
    const otherConfig = { mac_seed: randomUUID(), ...options.otherConfig };
    const ref = this.store.create('VM', { name_label: options.name, other_config: otherConfig, domain_type: options.domainType ?? 'hvm' });
    return { ref, uuid: this.store.text('VM', ref, 'uuid') };
  }

  /** A VIF made through VIF.create's own rules (MAC "" = generated from mac_seed). */
  addVif(vm: string, network: string, device: number, options: { mac?: string; otherConfig?: Record<string, string> } = {}): Handle {
    const ref = this.actions.vifCreate({
      device: String(device), network, VM: vm, MAC: options.mac ?? '', MTU: Number(this.store.field('network', network, 'MTU')),
      other_config: options.otherConfig ?? {}, qos_algorithm_type: '', qos_algorithm_params: {},
    });
    return { ref, uuid: this.store.text('VIF', ref, 'uuid') };
  }
}
