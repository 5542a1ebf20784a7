// The libvirt C API through koffi; nothing outside src/libvirt sees koffi.
// Types and values are checked against libvirt 9.0's headers (libvirt-dev).
// Functions that may block (RPC to libvirtd) are called with `.async`, which
// runs them on a worker thread; local getters are called directly.
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

const lib = koffi.load('libvirt.so.0');

export const virError = koffi.struct('virError', {
  code: 'int', domain: 'int', message: 'char *', level: 'int', conn: 'void *', dom: 'void *',
  str1: 'char *', str2: 'char *', str3: 'char *', int1: 'int', int2: 'int', net: 'void *',
});
export interface VirErrorFields { code: number; domain: number; message: string | null; level: number }

// A string libvirt allocated: decoded, then released with free(). Registered by
// name for the signatures below that return HeapString.
koffi.disposable('HeapString', 'str');

export const ErrorFunc = koffi.proto('void virErrorFunc(void *userData, virError *error)');
export const LifecycleCallback = koffi.proto('int virLifecycleCallback(void *conn, void *dom, int event, int detail, void *opaque)');
export const DeviceCallback = koffi.proto('void virDeviceCallback(void *conn, void *dom, const char *alias, void *opaque)');
export const MetadataCallback = koffi.proto('void virMetadataChangeCallback(void *conn, void *dom, int type, const char *nsuri, void *opaque)');
export const CloseCallback = koffi.proto('void virCloseCallback(void *conn, int reason, void *opaque)');
export const TimeoutCallback = koffi.proto('void virTimeoutCallback(int timer, void *opaque)');

export type Pointer = unknown;
type AsyncFn<A extends unknown[], R> = ((...args: A) => R) & {
  async: (...args: [...A, (error: unknown, result: R) => void]) => void;
};
const fn = <A extends unknown[], R>(signature: string): AsyncFn<A, R> => lib.func(signature) as AsyncFn<A, R>;

export const api = {
  setErrorFunc: fn<[Pointer, Pointer], undefined>('void virSetErrorFunc(void *userData, virErrorFunc *handler)'),
  connCopyLastError: fn<[Pointer, VirErrorFields], number>('int virConnCopyLastError(void *conn, _Out_ virError *to)'),
  connResetLastError: fn<[Pointer], undefined>('void virConnResetLastError(void *conn)'),
  copyLastError: fn<[VirErrorFields], number>('int virCopyLastError(_Out_ virError *to)'),
  eventRegisterDefaultImpl: fn<[], number>('int virEventRegisterDefaultImpl()'),
  eventRunDefaultImpl: fn<[], number>('int virEventRunDefaultImpl()'),
  eventAddTimeout: fn<[number, Pointer, Pointer, Pointer], number>('int virEventAddTimeout(int timeout, virTimeoutCallback *cb, void *opaque, void *ff)'),
  eventRemoveTimeout: fn<[number], number>('int virEventRemoveTimeout(int timer)'),

  connectOpen: fn<[string], Pointer>('void *virConnectOpen(const char *name)'),
  connectClose: fn<[Pointer], number>('int virConnectClose(void *conn)'),
  connectSetKeepAlive: fn<[Pointer, number, number], number>('int virConnectSetKeepAlive(void *conn, int interval, unsigned int count)'),
  connectIsAlive: fn<[Pointer], number>('int virConnectIsAlive(void *conn)'),
  connectGetURI: fn<[Pointer], string | null>('HeapString virConnectGetURI(void *conn)'),
  connectRegisterCloseCallback: fn<[Pointer, Pointer, Pointer, Pointer], number>('int virConnectRegisterCloseCallback(void *conn, virCloseCallback *cb, void *opaque, void *freecb)'),
  connectUnregisterCloseCallback: fn<[Pointer, Pointer], number>('int virConnectUnregisterCloseCallback(void *conn, virCloseCallback *cb)'),
  connectDomainEventRegisterAny: fn<[Pointer, Pointer, number, Pointer, Pointer, Pointer], number>('int virConnectDomainEventRegisterAny(void *conn, void *dom, int eventID, void *cb, void *opaque, void *freecb)'),
  connectDomainEventDeregisterAny: fn<[Pointer, number], number>('int virConnectDomainEventDeregisterAny(void *conn, int callbackID)'),
  connectListAllDomains: fn<[Pointer, [Pointer], number], number>('int virConnectListAllDomains(void *conn, _Out_ void **domains, unsigned int flags)'),

  domainLookupByName: fn<[Pointer, string], Pointer>('void *virDomainLookupByName(void *conn, const char *name)'),
  domainLookupByUUIDString: fn<[Pointer, string], Pointer>('void *virDomainLookupByUUIDString(void *conn, const char *uuid)'),
  domainDefineXML: fn<[Pointer, string], Pointer>('void *virDomainDefineXML(void *conn, const char *xml)'),
  domainDefineXMLFlags: fn<[Pointer, string, number], Pointer>('void *virDomainDefineXMLFlags(void *conn, const char *xml, unsigned int flags)'),
  domainFree: fn<[Pointer], number>('int virDomainFree(void *dom)'),
  domainGetName: fn<[Pointer], string | null>('const char *virDomainGetName(void *dom)'),
  domainGetID: fn<[Pointer], number>('unsigned int virDomainGetID(void *dom)'),
  domainGetUUIDString: fn<[Pointer, Buffer], number>('int virDomainGetUUIDString(void *dom, _Out_ uint8_t *buf)'),
  domainGetState: fn<[Pointer, [number], [number], number], number>('int virDomainGetState(void *dom, _Out_ int *state, _Out_ int *reason, unsigned int flags)'),
  domainIsPersistent: fn<[Pointer], number>('int virDomainIsPersistent(void *dom)'),
  domainGetXMLDesc: fn<[Pointer, number], string | null>('HeapString virDomainGetXMLDesc(void *dom, unsigned int flags)'),
  domainCreate: fn<[Pointer], number>('int virDomainCreate(void *dom)'),
  domainDestroy: fn<[Pointer], number>('int virDomainDestroy(void *dom)'),
  domainUndefineFlags: fn<[Pointer, number], number>('int virDomainUndefineFlags(void *dom, unsigned int flags)'),
  domainAttachDeviceFlags: fn<[Pointer, string, number], number>('int virDomainAttachDeviceFlags(void *dom, const char *xml, unsigned int flags)'),
  domainDetachDeviceFlags: fn<[Pointer, string, number], number>('int virDomainDetachDeviceFlags(void *dom, const char *xml, unsigned int flags)'),
  domainGetMetadata: fn<[Pointer, number, string, number], string | null>('HeapString virDomainGetMetadata(void *dom, int type, const char *uri, unsigned int flags)'),
  domainSetMetadata: fn<[Pointer, number, string | null, string | null, string, number], number>('int virDomainSetMetadata(void *dom, int type, const char *metadata, const char *key, const char *uri, unsigned int flags)'),
};

/** Calls a libvirt function on a worker thread. */
export function callAsync<A extends unknown[], R>(f: AsyncFn<A, R>, ...args: A): Promise<R> {
  return new Promise((resolve, reject) => {
    f.async(...args, (error: unknown, result: R) => {
      if (error !== null && error !== undefined) reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
      else resolve(result);
    });
  });
}

export const decodePointerArray = (array: Pointer, count: number): Pointer[] => koffi.decode(array, 'void *', count) as Pointer[];
export const freePointer = (pointer: Pointer): void => { koffi.free(pointer); };
/** A JS function as a C callback; it must be unregistered when no longer used. */
export const register = (callback: (...args: never[]) => unknown, type: TypeObject): bigint =>
  koffi.register(callback, koffi.pointer(type));
export const unregister = (callback: bigint): void => { koffi.unregister(callback); };
export const decodeError = (pointer: Pointer): VirErrorFields => koffi.decode(pointer, virError) as VirErrorFields;
