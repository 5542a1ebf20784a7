// The simulated xapi's method table: per-class getters and map setters
// generated from the schema, sessions, system.listMethods, and the VM/VIF
// actions. Arity is checked first (MESSAGE_PARAMETER_COUNT_MISMATCH counts
// the session too), then the session (SESSION_INVALID), as XAPI does.
import { XapiFailure } from './failure.js';
import { CLASSES, fieldNames } from './schema.js';
import type { SimClass, SimRecord, Value } from './schema.js';
import type { SimActions } from './actions.js';
import type { SimStore } from './store.js';

export interface CallContext {
  readonly transport: 'tcp' | 'unix';
  /** Set when the answering listener plays a pool member: logins are told to go to this master. */
  readonly slaveOf: string | null;
}

export interface Session {
  readonly user: string;
}

export interface MethodHost {
  readonly store: SimStore;
  readonly actions: SimActions;
  readonly sessions: Map<string, Session>;
  login(user: string, password: string, transport: 'tcp' | 'unix'): string;
  eventInject(cls: string, ref: string): string;
  eventFrom(session: string, classes: unknown, token: unknown, timeout: unknown): Promise<unknown>;
}

type Handler = (params: readonly unknown[], call: CallContext) => unknown;

interface MethodSpec {
  /** Parameter count including the session; [min, max] for login. */
  readonly arity: number | readonly [number, number];
  readonly session: boolean;
  readonly handler: Handler;
}

const MAP_FIELDS: Partial<Record<SimClass, readonly string[]>> = {
  pool: ['other_config'], host: ['other_config'], network: ['other_config'], PIF: ['other_config'],
  VLAN: ['other_config'], VM: ['other_config', 'blocked_operations'], VIF: ['other_config'], task: ['other_config'],
};

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new XapiFailure('FIELD_TYPE_ERROR', [field]);
  return value;
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new XapiFailure('FIELD_TYPE_ERROR', [field]);
  for (const entry of Object.values(value)) if (typeof entry !== 'string') throw new XapiFailure('FIELD_TYPE_ERROR', [field]);
  return value as Record<string, string>;
}

function mapMethods(host: MethodHost, cls: SimClass, field: string): [string, MethodSpec][] {
  const store = host.store;
  const entries = (record: SimRecord): Record<string, Value> => record[field] as Record<string, Value>;
  return [
    [`${cls}.add_to_${field}`, { arity: 4, session: true, handler: ([, ref, key, value]) => {
      const name = text(key, 'key');
      const uuid = store.text(cls, ref, 'uuid');
      if (name in (store.field(cls, ref, field) as Record<string, Value>)) throw new XapiFailure('MAP_DUPLICATE_KEY', [cls, field, uuid, name]);
      const entry = text(value, 'value');
      store.update(cls, ref, (record) => { entries(record)[name] = entry; });
      return '';
    } }],
    [`${cls}.remove_from_${field}`, { arity: 3, session: true, handler: ([, ref, key]) => {
      const name = text(key, 'key');
      store.update(cls, ref, (record) => { Reflect.deleteProperty(entries(record), name); });
      return '';
    } }],
    [`${cls}.set_${field}`, { arity: 3, session: true, handler: ([, ref, value]) => {
      const map = stringMap(value, 'value');
      store.update(cls, ref, (record) => { record[field] = { ...map }; });
      return '';
    } }],
  ];
}

function classMethods(host: MethodHost, cls: SimClass): [string, MethodSpec][] {
  const store = host.store;
  const methods: [string, MethodSpec][] = [
    [`${cls}.get_all_records`, { arity: 1, session: true, handler: () => store.allRecords(cls) }],
    [`${cls}.get_all`, { arity: 1, session: true, handler: () => store.refs(cls) }],
    [`${cls}.get_record`, { arity: 2, session: true, handler: ([, ref]) => store.get(cls, ref) }],
    [`${cls}.get_by_uuid`, { arity: 2, session: true, handler: ([, uuid]) => store.byUuid(cls, uuid) }],
  ];
  for (const field of fieldNames(cls)) {
    methods.push([`${cls}.get_${field}`, { arity: 2, session: true, handler: ([, ref]) => store.field(cls, ref, field) }]);
  }
  for (const field of MAP_FIELDS[cls] ?? []) methods.push(...mapMethods(host, cls, field));
  return methods;
}

function actionMethods(host: MethodHost): [string, MethodSpec][] {
  const { actions } = host;
  const ref = (value: unknown): string => text(value, 'ref');
  return [
    ['VM.get_allowed_VIF_devices', { arity: 2, session: true, handler: ([, vm]) => actions.allowedVifDevices(ref(vm)) }],
    ['VM.start', { arity: 4, session: true, handler: ([, vm]) => actions.start(ref(vm), null) }],
    ['VM.start_on', { arity: 5, session: true, handler: ([, vm, on]) => actions.start(ref(vm), ref(on), 'start_on') }],
    ['VM.shutdown', { arity: 2, session: true, handler: ([, vm]) => actions.shutdown(ref(vm), 'shutdown') }],
    ['VM.clean_shutdown', { arity: 2, session: true, handler: ([, vm]) => actions.shutdown(ref(vm), 'clean_shutdown') }],
    ['VM.hard_shutdown', { arity: 2, session: true, handler: ([, vm]) => actions.shutdown(ref(vm), 'hard_shutdown') }],
    ['VM.pool_migrate', { arity: 4, session: true, handler: ([, vm, to]) => actions.poolMigrate(ref(vm), ref(to)) }],
    ['VIF.create', { arity: 2, session: true, handler: ([, record]) => actions.vifCreate(record) }],
    ['VIF.destroy', { arity: 2, session: true, handler: ([, vif]) => actions.vifDestroy(ref(vif)) }],
    ['VIF.plug', { arity: 2, session: true, handler: ([, vif]) => actions.vifPlug(ref(vif), true) }],
    ['VIF.unplug', { arity: 2, session: true, handler: ([, vif]) => actions.vifPlug(ref(vif), false) }],
  ];
}

function sessionMethods(host: MethodHost): [string, MethodSpec][] {
  return [
    ['session.login_with_password', { arity: [2, 4], session: false, handler: ([user, password], call) => {
      if (call.slaveOf !== null) throw new XapiFailure('HOST_IS_SLAVE', [call.slaveOf]);
      return host.login(text(user, 'uname'), text(password, 'pwd'), call.transport);
    } }],
    ['session.logout', { arity: 1, session: true, handler: ([session]) => {
      host.sessions.delete(String(session));
      return '';
    } }],
    ['event.inject', { arity: 3, session: true, handler: ([, cls, ref]) => host.eventInject(text(cls, 'class'), text(ref, 'ref')) }],
    ['event.from', { arity: 4, session: true, handler: ([session, classes, token, timeout]) =>
      host.eventFrom(String(session), classes, token, timeout) }],
  ];
}

export class MethodTable {
  private readonly methods: Map<string, MethodSpec>;

  constructor(private readonly host: MethodHost) {
    this.methods = new Map([
      ...sessionMethods(host),
      ...CLASSES.flatMap((cls) => classMethods(host, cls)),
      ...actionMethods(host),
    ]);
  }

  names(): string[] {
    return ['system.listMethods', ...this.methods.keys()].sort();
  }

  async call(method: string, params: readonly unknown[], call: CallContext): Promise<unknown> {
    if (method === 'system.listMethods') return this.names();
    const spec = this.methods.get(method);
    if (spec === undefined) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [method]);
    const [min, max] = typeof spec.arity === 'number' ? [spec.arity, spec.arity] : spec.arity;
    if (params.length < min || params.length > max) {
      throw new XapiFailure('MESSAGE_PARAMETER_COUNT_MISMATCH', [method, String(max), String(params.length)]);
    }
    if (spec.session) {
      const session = params[0];
      // A demoted master's xapi restarted: none of its sessions survive, and a new login is sent to the master.
      if (call.slaveOf !== null || typeof session !== 'string' || !this.host.sessions.has(session)) {
        throw new XapiFailure('SESSION_INVALID', [typeof session === 'string' ? session : JSON.stringify(session)]);
      }
    }
    return await spec.handler(params, call);
  }
}
