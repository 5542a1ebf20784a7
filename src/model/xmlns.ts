// vifd's XML namespace for its intent in libvirt metadata. A module of its own
// so the libvirt hook program can test for it without loading an XML parser
// (hooks run synchronously inside libvirtd: their start-up time is the VM's).
export const VIFD_XML_NS = 'https://vifd.dev/xmlns/vifd/1';
