// An XAPI error as the simulator raises it: the wire turns it into
// {"code":1,"message":CODE,"data":[params]} (JSON-RPC 2.0) or [CODE, ...params] (v1).
export class XapiFailure extends Error {
  constructor(readonly code: string, readonly params: readonly string[] = []) {
    super(`${code}(${params.join(', ')})`);
    this.name = 'XapiFailure';
  }
}
