import { describe, expect, it } from 'vitest';
import {
  attachTargets,
  deviceChangeArgs,
  domainNameError,
  libvirtUri,
  listDomains,
  parseDomainNames,
  parseDomState,
  parseHostdevs,
  virshError,
} from '../../../src/core/passthrough/libvirt-domains';
import { hostdevXml } from '../../../src/core/passthrough/libvirt';
import { methods } from '../../../src/shared/contract';

// Captured from a real libvirtd 9.0.0 (Debian 12, QEMU 7.2, LC_ALL=C) while writing
// tests/integration/passthrough-libvirt-daemon.test.ts; the XML's controller list is shortened.

/** `virsh list --all --name`: a running and a stopped domain (a name with a space), then an empty line. */
const LIST_NAMES = 'gb-two\ngb one\n\n';

/** `virsh list --name` (active domains only) at the same moment. */
const LIST_ACTIVE = 'gb-two\n\n';

/** `virsh domstate NAME`: the state, then an empty line. */
const DOMSTATE_RUNNING = 'running\n\n';
const DOMSTATE_STOPPED = 'shut off\n\n';

/** `virsh dumpxml --inactive 'gb one'` after attaching the four functions of 0000:2b:00 with --config. */
const DUMPXML_INACTIVE = `<domain type='qemu'>
  <name>gb one</name>
  <uuid>38f5a97e-bbc1-4d25-b065-ebdc8a163e34</uuid>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>65536</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' index='0' model='qemu-xhci'>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </controller>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='5' model='pcie-to-pci-bridge'>
      <model name='pcie-pci-bridge'/>
      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
    </controller>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <audio id='1' type='none'/>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x2b' slot='0x00' function='0x0'/>
      </source>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x2b' slot='0x00' function='0x1'/>
      </source>
      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x2b' slot='0x00' function='0x2'/>
      </source>
      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x2b' slot='0x00' function='0x3'/>
      </source>
      <address type='pci' domain='0x0000' bus='0x08' slot='0x00' function='0x0'/>
    </hostdev>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;

describe('virsh output parsing', () => {
  it('list --all --name: names as they are (spaces kept), no empty entries', () => {
    expect(parseDomainNames(LIST_NAMES)).toEqual(['gb-two', 'gb one']);
    expect(parseDomainNames('\n')).toEqual([]);
    expect(parseDomainNames('')).toEqual([]);
    expect(parseDomainNames(' padded name \r\n\n')).toEqual([' padded name ']);
  });

  it('list --name (active only) and domstate', () => {
    expect(parseDomainNames(LIST_ACTIVE)).toEqual(['gb-two']);
    expect(parseDomState(DOMSTATE_RUNNING)).toBe('running');
    expect(parseDomState(DOMSTATE_STOPPED)).toBe('shut off');
    expect(parseDomState('paused\n\n')).toBe('paused');
    expect(parseDomState('\n')).toBeNull();
  });

  it("dumpxml: every PCI hostdev by its source's host address, not the guest address, with its element", () => {
    const found = parseHostdevs(DUMPXML_INACTIVE);
    expect(found.map((h) => h.address)).toEqual(['0000:2b:00.0', '0000:2b:00.1', '0000:2b:00.2', '0000:2b:00.3']);
    expect(found.every((h) => h.managed === 'no')).toBe(true);
    expect(found[1]?.xml).toBe(
      [
        `<hostdev mode='subsystem' type='pci' managed='no'>`,
        `  <driver name='vfio'/>`,
        `  <source>`,
        `    <address domain='0x0000' bus='0x2b' slot='0x00' function='0x1'/>`,
        `  </source>`,
        `  <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>`,
        `</hostdev>`,
      ].join('\n'),
    );
  });

  it('dumpxml: a domain without hostdevs holds none; controllers and memballoon addresses are not hostdevs', () => {
    const none = DUMPXML_INACTIVE.replace(/ {4}<hostdev[\s\S]*?<\/hostdev>\n/g, '');
    expect(none).not.toContain('hostdev');
    expect(parseHostdevs(none)).toEqual([]);
  });

  it('dumpxml: skips USB hostdevs, comments and metadata; reads double quotes, decimal numbers and our own XML', () => {
    const xml = `<domain type='kvm'>
  <name>odd</name>
  <metadata>
    <app:x xmlns:app="urn:x"><hostdev type='pci'><source><address domain='0' bus='9' slot='0' function='0'/></source></hostdev></app:x>
    <y xmlns="urn:y"><hostdev type='pci'><source><address domain='0' bus='8' slot='0' function='0'/></source></hostdev></y>
  </metadata>
  <devices>
    <!-- <hostdev type='pci'><source><address domain='0' bus='7' slot='0' function='0'/></source></hostdev> -->
    <hostdev mode='subsystem' type='usb' managed='yes'>
      <source><vendor id='0x046d'/><product id='0xc52b'/><address bus='1' device='3'/></source>
    </hostdev>
    <hostdev mode="subsystem" type="pci" managed="yes">
      <source>
        <address domain="0x0001" bus="10" slot="31" function="7"/>
      </source>
    </hostdev>
  </devices>
</domain>`;
    expect(parseHostdevs(xml).map((h) => [h.address, h.managed])).toEqual([['0001:0a:1f.7', 'yes']]);
    expect(parseHostdevs(hostdevXml('0000:2b:00.3')).map((h) => h.address)).toEqual(['0000:2b:00.3']);
    expect(parseHostdevs(`<hostdev type='pci'><source><address domain='0x0000' bus='0x100' slot='0x00' function='0x0'/></source></hostdev>`)).toEqual([]);
  });

  it("virsh's errors, as it prints them", () => {
    expect(virshError({ code: 1, stdout: '\n', stderr: "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/tmp/nonexist/sock': No such file or directory\n", spawnError: null, timedOut: false })).toBe(
      "failed to connect to the hypervisor: Failed to connect socket to '/tmp/nonexist/sock': No such file or directory",
    );
    expect(virshError({ code: 1, stdout: '', stderr: 'error: Failed to attach device from /tmp/h.xml\nerror: Requested operation is not valid: device is already in the domain configuration\n', spawnError: null, timedOut: false })).toBe('Requested operation is not valid: device is already in the domain configuration');
    expect(virshError({ code: null, stdout: '', stderr: '', spawnError: null, timedOut: true }, 20_000)).toBe('virsh did not answer within 20 s');
  });
});

describe('domain names (untrusted input)', () => {
  it('accepts what libvirt accepts within 1–64 characters', () => {
    for (const name of ['gb one', 'win11-gaming', 'ÜberVM', 'a', 'x'.repeat(64), 'name.with_dots+plus', "it's"]) expect(domainNameError(name)).toBeNull();
  });

  it("refuses '', more than 64 characters, '/', control characters and a leading '-'", () => {
    for (const name of ['', 'x'.repeat(65), 'a/b', '../etc', 'a\nb', 'tab\there', 'del\u007f', '-c', '--help']) expect(domainNameError(name)).not.toBeNull();
    expect(domainNameError('-rf')).toContain('"-"');
  });

  it('the contract refuses the same names before any handler runs', () => {
    const params = methods['passthrough.attach'].params;
    expect(params.safeParse({ address: '0000:2b:00.0', domain: 'gb one' }).success).toBe(true);
    expect(params.safeParse({ address: '0000:2b:00.0', domain: 'gb one', with: ['0000:2b:00.2'] }).success).toBe(true);
    for (const domain of ['', '-c', 'a/b', 'x\u0000', 'x'.repeat(65)]) expect(params.safeParse({ address: '0000:2b:00.0', domain }).success).toBe(false);
    expect(params.safeParse({ address: '0000:2b:00.0', domain: 'ok', with: Array.from({ length: 9 }, () => '0000:2b:00.1') }).success).toBe(false);
    expect(params.safeParse({ address: '0000:2b:00.0; reboot', domain: 'ok' }).success).toBe(false);
    expect(params.safeParse({ address: '0000:2b:00.0', domain: 'ok', extra: 1 }).success).toBe(false);
  });
});

describe('virsh argv', () => {
  it('a running domain gets --live --config, a stopped one --config, a transient one --live; the name is the last element, after --', () => {
    expect(attachTargets(true)).toEqual({ live: true, config: true });
    expect(attachTargets(false)).toEqual({ live: false, config: true });
    expect(attachTargets(true, false)).toEqual({ live: true, config: false }); // transient (virsh create): no config to change
    expect(deviceChangeArgs('qemu:///system', 'attach', 'gb one', '/tmp/d/h.xml', attachTargets(true))).toEqual(['-c', 'qemu:///system', 'attach-device', '--live', '--config', '--file', '/tmp/d/h.xml', '--', 'gb one']);
    expect(deviceChangeArgs('qemu:///system', 'attach', 'gb one', '/tmp/d/h.xml', attachTargets(false))).toEqual(['-c', 'qemu:///system', 'attach-device', '--config', '--file', '/tmp/d/h.xml', '--', 'gb one']);
    expect(deviceChangeArgs('qemu:///system', 'detach', "it's", '/f', { live: true, config: false })).toEqual(['-c', 'qemu:///system', 'detach-device', '--live', '--file', '/f', '--', "it's"]);
  });

  it('the URI: qemu:///system unless LIBVIRT_DEFAULT_URI says otherwise', () => {
    expect(libvirtUri({ env: {} })).toBe('qemu:///system');
    expect(libvirtUri({ env: { LIBVIRT_DEFAULT_URI: 'qemu:///system?socket=/tmp/s' } })).toBe('qemu:///system?socket=/tmp/s');
    expect(libvirtUri({ env: { LIBVIRT_DEFAULT_URI: '' } })).toBe('qemu:///system');
    expect(libvirtUri({ uri: 'qemu+ssh://h/system', env: { LIBVIRT_DEFAULT_URI: 'x' } })).toBe('qemu+ssh://h/system');
  });

  it('no virsh: the list answers available: false with what to install, and does not throw', async () => {
    const list = await listDomains({ virsh: '/nonexistent/virsh', env: {} });
    expect(list).toMatchObject({ available: false, uri: 'qemu:///system', domains: [] });
    expect(list.reason).toContain('libvirt-daemon-system');
    expect(methods['passthrough.vms'].result.safeParse(list).success).toBe(true);
  });
});
