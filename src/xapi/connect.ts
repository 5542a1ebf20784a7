// From a parsed `xapi:` block to a client: the credentials file (mode
// checked) and CA read here, so the parser stays pure.
import { readFile } from 'node:fs/promises';
import { XapiClient } from './client.js';
import type { XapiLog } from './client.js';
import type { XapiConfig } from './config.js';
import { readCredentialsFile } from './credentials.js';
import { XapiCredentialsError } from './errors.js';

export async function createXapiClient(config: XapiConfig, log?: XapiLog): Promise<XapiClient> {
  const credentials = config.credentialsFile === null ? undefined : await readCredentialsFile(config.credentialsFile);
  let ca: string | undefined;
  if (config.caFile !== null) {
    const caFile = config.caFile;
    ca = await readFile(caFile, 'utf8').catch((error: unknown) => {
      throw new XapiCredentialsError(`cannot read the CA file (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { source: caFile }, { cause: error });
    });
  }
  return new XapiClient({ endpoint: config.transport, credentials, ca, log });
}
