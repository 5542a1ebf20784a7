// The real `xen-api` npm client (Xen Orchestra's), the independent judge of
// the simulator's wire fidelity. It is ESM-only with no types: loaded by a
// dynamic import and typed here for just what the contract tests use. It is a
// devDependency only (it pulls AGPL packages; vifd ships its own client).

export interface XenApiRecord {
  readonly $ref: string;
  readonly $type: string;
  readonly uuid: string;
  readonly [field: string]: unknown;
}

export interface XenApiCollection {
  /** Every record by $id (the uuid). */
  readonly all: Readonly<Record<string, XenApiRecord>>;
}

export interface XenApiClient {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  readonly status: string;
  readonly objects: XenApiCollection;
  readonly objectsFetched: Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  /** Throws for an unknown ref unless a default is given. */
  getObjectByRef(ref: string, defaultValue?: null): XenApiRecord | null;
  getObjectByUuid(uuid: string, defaultValue?: null): XenApiRecord | null;
}

export interface XenApiOptions {
  readonly url: string;
  readonly auth: { readonly user: string; readonly password: string };
  readonly watchEvents?: readonly string[] | false;
  readonly debounce?: number;
  readonly eventPollDelay?: number;
  readonly allowUnauthorized?: boolean;
  readonly transport?: 'auto' | 'json-rpc' | 'xml-rpc';
  /** Retries of read-only calls after ECONNRESET (default 10, 1 s apart). */
  readonly roCallRetryOptions?: { readonly delay?: number; readonly tries?: number };
}

interface XenApiModule {
  createClient(options: XenApiOptions): XenApiClient;
}

export const WATCHED_CLASSES = ['VM', 'VIF', 'network', 'PIF', 'VLAN', 'host', 'pool'] as const;

export async function createXenApiClient(options: XenApiOptions): Promise<XenApiClient> {
  // A variable specifier: TypeScript then types the module as any instead of refusing an untyped package.
  const specifier: string = 'xen-api';
  const module = (await import(specifier)) as XenApiModule;
  // Short pauses (not the defaults' 60 s and 1 s) so a test and its teardown do not wait on the client.
  return module.createClient({
    allowUnauthorized: true, debounce: 10, eventPollDelay: 100, roCallRetryOptions: { delay: 20 }, watchEvents: WATCHED_CLASSES, ...options,
  });
}

/** Polls `check` every 20 ms until it holds; the error names what was awaited. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
