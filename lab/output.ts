// How the lab talks to the operator: one prefix per line, so its own lines
// stand out among the tools' output it passes through.
export class LabError extends Error {
  override readonly name = 'LabError';
}

export function say(line: string): void {
  process.stdout.write(`lab: ${line}\n`);
}

/** Passes a tool's output through, indented, so it reads as quoted. */
export function quote(text: string, indent = '  '): void {
  const lines = text.replace(/\n+$/, '').split('\n');
  process.stdout.write(`${lines.map((line) => `${indent}${line}`.trimEnd()).join('\n')}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

export function tail(text: string, lines = 30): string {
  return text.replace(/\n+$/, '').split('\n').slice(-lines).join('\n');
}
