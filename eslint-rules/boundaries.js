// @ts-check
// Which folder of src/ may import which (design.md "Layout"; issue 11 item 7).
// An allow-list: a folder imports only what its entry names, and a file under
// src/ in no folder below fails lint until its folder is added here.

/** Node modules that do I/O: the pure folders import none of them. */
const IO_MODULES = ['fs', 'net', 'http', 'https', 'http2', 'dgram', 'dns', 'child_process', 'worker_threads', 'cluster', 'tls', 'os', 'koffi'];

const PURE = 'pure: no I/O, and nothing of host, xapi, libvirt, sources, kinds, engine or the programs';

/** @type {{ folder: string, allow: string[], denyPackages?: string[], why: string }[]} */
export const zones = [
  { folder: 'src/common', allow: ['src/common'], why: 'errors base, backoff, fault points: the bottom layer' },
  { folder: 'src/model', allow: ['src/model', 'src/common'], denyPackages: IO_MODULES, why: `the model is ${PURE}` },
  { folder: 'src/config', allow: ['src/config', 'src/model', 'src/common', 'src/xapi'], why: 'the config file schema knows the model and parses the xapi: block with the XAPI client\'s parser, nothing that acts' },
  { folder: 'src/libvirt', allow: ['src/libvirt', 'src/common'], why: 'the libvirt binding knows nothing of vifd' },
  { folder: 'src/xapi', allow: ['src/xapi', 'src/model', 'src/common'], why: 'the XAPI client knows the model, nothing of OVS, sources or the engine' },
  { folder: 'src/host', allow: ['src/host', 'src/model', 'src/common'], why: 'host effectors (TAP, OVSDB, SR-IOV) act on the host and know nothing of sources, kinds or the engine' },
  {
    folder: 'src/kinds',
    allow: ['src/kinds', 'src/host', 'src/model', 'src/common'],
    why: 'a VIF kind works through host effectors and never reaches the engine, a source, the daemon, the API, the CLI or libvirt',
  },
  { folder: 'src/sources', allow: ['src/sources', 'src/model', 'src/common'], why: 'a source turns its world into VM intents and never reaches the engine, the kinds, the daemon, the API or the CLI' },
  { folder: 'src/sources/libvirt', allow: ['src/sources', 'src/model', 'src/common', 'src/libvirt'], why: 'the libvirt source may use the libvirt binding, and nothing else a source may not' },
  { folder: 'src/sources/xapi', allow: ['src/sources', 'src/model', 'src/common', 'src/xapi'], why: 'the XAPI source may use the XAPI client, and nothing else a source may not' },
  {
    folder: 'src/engine',
    allow: ['src/engine', 'src/kinds', 'src/model', 'src/common'],
    denyPackages: ['koffi'],
    why: 'the engine knows intents, plans and the kinds\' interfaces; it reaches the host only through kinds and never a source or libvirt',
  },
  { folder: 'src/api', allow: ['src'], why: 'the control socket and metrics may use anything in src' },
  { folder: 'src/daemon', allow: ['src'], why: 'the daemon wires everything in src' },
  { folder: 'src/cli', allow: ['src'], why: 'the programs may use anything in src' },
];

/** @type {{ files: string[], deny: string[], denyPackages?: string[], why: string }[]} */
export const programs = [
  {
    files: ['src/cli/hook.ts', 'src/cli/xen-hook.ts'],
    deny: ['src/libvirt', 'src/sources/libvirt/source.ts'],
    denyPackages: ['koffi'],
    why: 'the hook program never loads libvirt: libvirtd waits for the hook and a call back into it would deadlock',
  },
];

/** The rule's options for a project rooted at `root`. */
export const importBoundaryOptions = (root) => ({ root, covered: ['src'], zones, programs });
