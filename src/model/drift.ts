// How a VIF on the host differs from what is wanted: one typed record per
// field (a TAP property, an OVSDB column, an external_ids key), never a
// sentence to be matched later. Status shows them; kinds pick repairs by field.
export interface Drift {
  /** What differs, e.g. "tap", "tap.mtu", "tag", "mtu_request", "external_ids:iface-id". */
  readonly field: string;
  /** The wanted value as shown to an operator ("none" when it should be absent). */
  readonly wanted: string;
  /** What the host has ("none" when absent). */
  readonly seen: string;
}

export const describeDrift = (drift: Drift): string => `${drift.field}: wanted ${drift.wanted}, seen ${drift.seen}`;
