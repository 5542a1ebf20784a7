// Where XAPI is and how one HTTP request reaches it: the local unix socket
// (/var/lib/xcp/xapi on a real host) or an http(s) URL. One keep-alive agent
// per transport so close() can end every connection, long polls included.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { InvalidInputError, describeValue } from '../model/errors.js';
import { XapiTransportError } from './errors.js';
import type { HttpReply } from './jsonrpc.js';

export const DEFAULT_XAPI_SOCKET = '/var/lib/xcp/xapi';

export type XapiEndpoint =
  | { readonly kind: 'unix'; readonly socketPath: string }
  | { readonly kind: 'url'; readonly url: URL };

/** `unix:/path`, or an http:// / https:// URL (http only to a loopback host: the password would travel in clear). */
export function parseEndpoint(text: unknown, field = 'transport'): XapiEndpoint {
  if (typeof text !== 'string' || text === '') {
    throw new InvalidInputError(`expected "unix:/path" or an https:// URL, got ${describeValue(text)}`, { field, value: text });
  }
  if (text.startsWith('unix:')) {
    const socketPath = text.slice('unix:'.length);
    if (!socketPath.startsWith('/')) throw new InvalidInputError(`${describeValue(socketPath)} is not an absolute socket path`, { field, value: text });
    return { kind: 'unix', socketPath };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidInputError(`${describeValue(text)} is neither "unix:/path" nor a URL`, { field, value: text });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidInputError(`${describeValue(text)}: only https:// (or http:// to loopback) and unix: are supported`, { field, value: text });
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new InvalidInputError(`${describeValue(text)}: http:// is only allowed to a loopback address; use https://`, { field, value: text });
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidInputError('credentials do not belong in the URL; use credentials_file', { field, value: `${url.protocol}//…@${url.host}` });
  }
  return { kind: 'url', url };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || /^127(\.\d{1,3}){3}$/.test(hostname) || hostname === '[::1]';
}

export function describeEndpoint(endpoint: XapiEndpoint): string {
  return endpoint.kind === 'unix' ? `unix:${endpoint.socketPath}` : endpoint.url.origin;
}

/** The same endpoint on another host (HOST_IS_SLAVE names the master's address): scheme and port kept. */
export function withHost(endpoint: XapiEndpoint, address: string): XapiEndpoint {
  if (endpoint.kind === 'unix') return endpoint;
  const url = new URL(endpoint.url.href);
  url.hostname = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return { kind: 'url', url };
}

export interface TransportOptions {
  /** PEM CA certificate(s) for https (XAPI hosts usually have their own). */
  readonly ca?: string | Buffer;
}

export interface PostOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export class HttpTransport {
  private readonly agent: HttpAgent;
  private readonly requests = new Set<ClientRequest>();

  constructor(readonly endpoint: XapiEndpoint, options: TransportOptions = {}) {
    const https = endpoint.kind === 'url' && endpoint.url.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true, ca: options.ca }) : new HttpAgent({ keepAlive: true });
  }

  post(path: string, body: string, options: PostOptions): Promise<HttpReply> {
    const where = describeEndpoint(this.endpoint);
    return new Promise((resolve, reject) => {
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(body) };
      const request = this.open(path, headers);
      this.requests.add(request);
      const fail = (detail: string, cause?: unknown): void => {
        request.destroy();
        reject(new XapiTransportError(`XAPI ${where}: ${detail}`, {}, { cause }));
      };
      const onAbort = (): void => { fail('call cancelled'); };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      request.setTimeout(options.timeoutMs, () => { fail(`no answer within ${options.timeoutMs} ms`); });
      request.on('error', (error) => { fail(error.message, error); });
      request.on('close', () => {
        this.requests.delete(request);
        options.signal?.removeEventListener('abort', onAbort);
      });
      request.on('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => { fail(error.message, error); });
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      if (options.signal?.aborted === true) onAbort();
      else request.end(body);
    });
  }

  private open(path: string, headers: Record<string, string | number>): ClientRequest {
    if (this.endpoint.kind === 'unix') {
      return httpRequest({ socketPath: this.endpoint.socketPath, path, method: 'POST', headers: { ...headers, Host: 'localhost' }, agent: this.agent });
    }
    const url = new URL(path, this.endpoint.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return send(url, { method: 'POST', headers, agent: this.agent });
  }

  /** Ends every connection; calls in flight fail with XapiTransportError. */
  close(): void {
    for (const request of this.requests) request.destroy(new Error('XAPI client closed'));
    this.agent.destroy();
  }
}
