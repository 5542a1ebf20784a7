// Domain definitions come from hooks and libvirt: a real one parses in well
// under a millisecond, but one near the 1 MiB bound takes hundreds of
// milliseconds and tens of megabytes. Those are parsed in a short-lived worker
// thread, so the event loop keeps serving hooks and answering OVSDB's echo,
// and the memory goes back when the worker exits.
import { Worker } from 'node:worker_threads';
import { parseDomainXml } from './domain-xml.js';
import type { DomainDefinition } from './domain-xml.js';
import { InvalidInputError } from '../../model/errors.js';
import type { ErrorContext } from '../../model/errors.js';
import { assertDomainXmlSize } from '../../model/limits.js';

/** Below this many characters a definition is parsed in place (a worker costs more than the parse). */
export const IN_PLACE_PARSE_CHARS = 64 * 1024;

const WORKER = new URL('./xml-parse-worker.js', import.meta.url);

type WorkerReply = { ok: true; definition: DomainDefinition } | { ok: false; invalid: boolean; detail: string; context?: ErrorContext };

export async function parseDomainXmlAsync(xml: string): Promise<DomainDefinition> {
  assertDomainXmlSize(xml);
  if (xml.length < IN_PLACE_PARSE_CHARS) return parseDomainXml(xml);
  const reply = await new Promise<WorkerReply>((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: xml });
    worker.once('message', (message: WorkerReply) => { resolve(message); });
    worker.once('error', reject);
    worker.once('exit', (code) => { reject(new Error(`XML parser thread exited with ${code} before answering`)); });
  });
  if (reply.ok) return reply.definition;
  if (reply.invalid) throw new InvalidInputError(reply.detail, reply.context ?? {});
  throw new Error(`parsing the domain definition failed: ${reply.detail}`);
}
