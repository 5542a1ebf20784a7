// The VIF limit (design invariant 7): 7 per VM by default, as Xen has it; a
// host-wide default and cap in the config; a per-VM override in the VM's own
// definition. VM definitions are untrusted, so an override can lower the
// limit or raise it up to the host's cap, never past it.
import { InvalidInputError, LimitExceededError, describeValue } from './errors.js';
import { MAX_VIF_INDEX } from './ids.js';

export const DEFAULT_VIF_LIMIT = 7;
/** The host's cap on VM overrides when the config sets none. */
export const DEFAULT_VIF_LIMIT_MAX = 64;
/** VIF indices run 0..MAX_VIF_INDEX, so no VM can have more VIFs than this. */
export const MAX_VIF_LIMIT = MAX_VIF_INDEX + 1;

export function parseVifLimit(input: unknown, field = 'vif_limit'): number {
  const value = typeof input === 'string' && /^[1-9]\d*$/.test(input) ? Number(input) : input;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_VIF_LIMIT) {
    throw new InvalidInputError(`${describeValue(input)} is not a VIF limit (an integer 1-${MAX_VIF_LIMIT})`, { field, value: input });
  }
  return value;
}

export type VifLimitSource = 'vm' | 'host' | 'builtin';

export interface VifLimit {
  readonly limit: number;
  readonly source: VifLimitSource;
}

export interface VifLimitSettings {
  readonly hostDefault?: number | undefined;
  readonly hostMax?: number | undefined;
  /** Raw text or number from the VM definition, validated here. */
  readonly vmOverride?: unknown;
  /** Where the override came from, for errors: the metadata element or other_config key. */
  readonly overrideField?: string | undefined;
}

export function resolveVifLimit(settings: VifLimitSettings): VifLimit {
  const hostMax = settings.hostMax ?? DEFAULT_VIF_LIMIT_MAX;
  if (settings.vmOverride !== undefined) {
    const field = settings.overrideField ?? 'vif-limit';
    const limit = parseVifLimit(settings.vmOverride, field);
    if (limit > hostMax) {
      throw new LimitExceededError(`the VM asks for a limit of ${limit} VIFs; this host allows at most ${hostMax}`, {
        field, value: settings.vmOverride,
      });
    }
    return { limit, source: 'vm' };
  }
  if (settings.hostDefault !== undefined) return { limit: settings.hostDefault, source: 'host' };
  return { limit: DEFAULT_VIF_LIMIT, source: 'builtin' };
}

const SOURCE_TEXT: Record<VifLimitSource, string> = {
  vm: "the VM's own override",
  host: 'host default',
  builtin: "vifd's default, as Xen's",
};

export interface VifCountCheck {
  readonly vmName: string;
  readonly vmUuid?: string;
  readonly requested: number;
  readonly limit: VifLimit;
}

export type VifCountVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export function checkVifCount(check: VifCountCheck): VifCountVerdict {
  if (check.requested <= check.limit.limit) return { ok: true };
  const reason = `VM ${JSON.stringify(check.vmName)} asks for ${check.requested} VIFs; the limit is ${check.limit.limit} (${SOURCE_TEXT[check.limit.source]})`;
  return { ok: false, reason };
}

/** checkVifCount for callers that refuse by throwing. */
export function assertVifCount(check: VifCountCheck): void {
  const verdict = checkVifCount(check);
  if (!verdict.ok) {
    throw new LimitExceededError(
      `asks for ${check.requested} VIFs; the limit is ${check.limit.limit} (${SOURCE_TEXT[check.limit.source]})`,
      { domain: check.vmName, value: check.requested, ...(check.vmUuid === undefined ? {} : { vmUuid: check.vmUuid }) },
    );
  }
}
