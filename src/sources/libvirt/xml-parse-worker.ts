// Runs in a worker thread: parses one domain definition and posts the result
// or the refusal (as plain data; the main thread rebuilds the typed error).
import { parentPort, workerData } from 'node:worker_threads';
import { parseDomainXml } from './domain-xml.js';
import { InvalidInputError } from '../../model/errors.js';

try {
  parentPort?.postMessage({ ok: true, definition: parseDomainXml(workerData as string) });
} catch (error) {
  if (error instanceof InvalidInputError) {
    // `value` may hold what structured clone cannot carry; the detail already shows it.
    parentPort?.postMessage({ ok: false, invalid: true, detail: error.detail, context: { ...error.context, value: undefined } });
  } else {
    parentPort?.postMessage({ ok: false, invalid: false, detail: error instanceof Error ? error.message : String(error) });
  }
}
