#!/usr/bin/env node
// A fake kernel for a fake sysfs tree (tests/helpers/fake-sysfs.ts). The privileged helper runs it in
// place of `tee` (GPU_BRIDGE_HELPER_WRITER, honoured only with GPU_BRIDGE_HELPER_ROOT): same argv (the
// path), same stdin (the value). Like a sysfs write, it returns only once the "kernel" has acted:
//   devices/<BDF>/driver_override  stores the value ("(null)" when empty)
//   drivers/<drv>/unbind           (also through devices/<BDF>/driver/unbind) removes the driver link;
//                                  the last vfio-pci device of a group takes /dev/vfio/<group> with it
//   drivers/<drv>/bind             links the device to <drv> (vfio-pci also creates /dev/vfio/<group>)
//   drivers_probe                  binds an unbound device to its driver_override, else to its native driver
//   devices/<PF>/sriov_numvfs      like the kernel's SR-IOV: N > sriov_totalvfs is ERANGE, a PF without a
//                                  driver ENOENT, a non-zero count to another non-zero count EBUSY; 0 removes
//                                  the VFs (unbinding them first), N creates N VFs (routing id PF + sriov_offset
//                                  + k * sriov_stride, default 1 and 1) with `physfn`/`virtfnK` links, the PF's
//                                  vendor and class, and each its own new IOMMU group; they are probed (native
//                                  driver from the map) unless the PF's sriov_drivers_autoprobe reads 0
// Environment: GPU_BRIDGE_HELPER_ROOT (the tree), GPU_BRIDGE_FAKE_KERNEL_DRIVERS (JSON {BDF: native
// driver}), GPU_BRIDGE_FAKE_KERNEL_FAIL (optional file: "BDF" fails that device's next probe with EIO,
// "BDF always" every probe of it; "PF sriov" fails the PF's next non-zero sriov_numvfs write with EIO,
// leaving 0 VFs as the kernel does, "PF sriov-always" every one).
import { existsSync, mkdirSync, readFileSync, readlinkSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

const root = realpathSync(process.env.GPU_BRIDGE_HELPER_ROOT ?? '');
const native = JSON.parse(process.env.GPU_BRIDGE_FAKE_KERNEL_DRIVERS ?? '{}');
const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/;
const pci = join(root, 'sys', 'bus', 'pci');

function fail(code, message) {
  process.stderr.write(`${code}: ${message}\n`);
  process.exit(1);
}

const link = (p) => {
  try {
    return basename(readlinkSync(p));
  } catch {
    return null;
  }
};
const deviceDir = (bdf) => {
  if (!BDF.test(bdf)) fail('EINVAL', `not a PCI address: ${JSON.stringify(bdf)}`);
  if (!existsSync(join(pci, 'devices', bdf))) fail('ENODEV', `no device ${bdf}`);
  return realpathSync(join(pci, 'devices', bdf));
};
const groupOf = (bdf) => link(join(deviceDir(bdf), 'iommu_group'));
const vfioNode = (group) => join(root, 'dev', 'vfio', group);

function bind(drv, bdf) {
  const dev = deviceDir(bdf);
  if (link(join(dev, 'driver')) !== null) fail('EBUSY', `${bdf} already has a driver`);
  const drvDir = join(pci, 'drivers', drv);
  if (!existsSync(drvDir)) fail('ENODEV', `no driver ${drv}`);
  symlinkSync(relative(dev, drvDir), join(dev, 'driver'));
  const group = groupOf(bdf);
  if (drv === 'vfio-pci' && group !== null) {
    mkdirSync(dirname(vfioNode(group)), { recursive: true });
    writeFileSync(vfioNode(group), '');
  }
}

function unbind(drv, bdf) {
  const dev = deviceDir(bdf);
  if (link(join(dev, 'driver')) !== drv) fail('ENODEV', `${bdf} is not bound to ${drv}`);
  rmSync(join(dev, 'driver'));
  const group = groupOf(bdf);
  if (drv === 'vfio-pci' && group !== null) {
    const members = readdirSync(join(root, 'sys', 'kernel', 'iommu_groups', group, 'devices'));
    if (!members.some((m) => link(join(deviceDir(m), 'driver')) === 'vfio-pci')) rmSync(vfioNode(group), { force: true });
  }
}

function probe(bdf) {
  const dev = deviceDir(bdf);
  if (link(join(dev, 'driver')) !== null) return;
  const failing = process.env.GPU_BRIDGE_FAKE_KERNEL_FAIL;
  const [faulty, how] = failing && existsSync(failing) ? readFileSync(failing, 'utf8').trim().split(/\s+/) : [];
  if (faulty === bdf && !how?.startsWith('sriov')) {
    if (how !== 'always') rmSync(failing); // a transient fault: the next probe works
    fail('EIO', `probe of ${bdf} failed (test fault)`);
  }
  const override = readFileSync(join(dev, 'driver_override'), 'utf8').trim();
  const drv = override !== '' && override !== '(null)' ? override : native[bdf];
  if (drv && existsSync(join(pci, 'drivers', drv))) bind(drv, bdf);
}

const readText = (p, fallback = null) => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return fallback;
  }
};
const virtfns = (pfDir) =>
  readdirSync(pfDir)
    .filter((n) => /^virtfn\d+$/.test(n))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));

function removeVf(pfDir, linkName) {
  const vf = link(join(pfDir, linkName));
  const vfDir = deviceDir(vf);
  const drv = link(join(vfDir, 'driver'));
  if (drv !== null) unbind(drv, vf);
  const group = groupOf(vf);
  if (group !== null) {
    const groupDir = join(root, 'sys', 'kernel', 'iommu_groups', group);
    rmSync(join(groupDir, 'devices', vf), { force: true });
    if (readdirSync(join(groupDir, 'devices')).length === 0) rmSync(groupDir, { recursive: true, force: true });
  }
  rmSync(join(pci, 'devices', vf), { force: true });
  rmSync(vfDir, { recursive: true, force: true });
  rmSync(join(pfDir, linkName), { force: true });
}

function addVf(pf, pfDir, k) {
  const offset = Number(readText(join(pfDir, 'sriov_offset'), '1'));
  const stride = Number(readText(join(pfDir, 'sriov_stride'), '1'));
  const [domain, bus, slotFn] = pf.split(':');
  const [slot, fn] = slotFn.split('.');
  const rid = ((parseInt(bus, 16) << 8) | (parseInt(slot, 16) << 3) | Number(fn)) + offset + k * stride;
  const hex2 = (v) => v.toString(16).padStart(2, '0');
  const vf = `${domain}:${hex2((rid >> 8) & 0xff)}:${hex2((rid >> 3) & 0x1f)}.${rid & 7}`;
  if (existsSync(join(pci, 'devices', vf))) fail('EEXIST', `VF address ${vf} is taken`);
  const vfDir = join(dirname(pfDir), vf);
  mkdirSync(vfDir, { recursive: true });
  writeFileSync(join(vfDir, 'vendor'), `${readText(join(pfDir, 'vendor'))}\n`);
  const vfDevice = readText(join(pfDir, 'sriov_vf_device'));
  writeFileSync(join(vfDir, 'device'), `${vfDevice ? (vfDevice.startsWith('0x') ? vfDevice : `0x${vfDevice}`) : readText(join(pfDir, 'device'))}\n`);
  writeFileSync(join(vfDir, 'class'), `${readText(join(pfDir, 'class'))}\n`);
  writeFileSync(join(vfDir, 'numa_node'), `${readText(join(pfDir, 'numa_node'), '-1')}\n`);
  writeFileSync(join(vfDir, 'driver_override'), '(null)\n');
  symlinkSync(relative(vfDir, pfDir), join(vfDir, 'physfn'));
  symlinkSync(relative(pfDir, vfDir), join(pfDir, `virtfn${k}`));
  symlinkSync(relative(join(pci, 'devices'), vfDir), join(pci, 'devices', vf));
  if (link(join(pfDir, 'iommu_group')) !== null) {
    const groups = join(root, 'sys', 'kernel', 'iommu_groups');
    const group = String(Math.max(0, ...readdirSync(groups).filter((g) => /^\d+$/.test(g)).map(Number)) + 1);
    mkdirSync(join(groups, group, 'devices'), { recursive: true });
    symlinkSync(relative(vfDir, join(groups, group)), join(vfDir, 'iommu_group'));
    symlinkSync(relative(join(groups, group, 'devices'), vfDir), join(groups, group, 'devices', vf));
  }
  return vf;
}

function setNumVfs(pf, value) {
  const pfDir = deviceDir(pf);
  if (!/^\d{1,5}$/.test(value)) fail('EINVAL', `not a count: ${JSON.stringify(value)}`);
  const want = Number(value);
  const total = readText(join(pfDir, 'sriov_totalvfs'));
  if (total === null) fail('ENOENT', `${pf} has no SR-IOV capability`);
  if (want > Number(total)) fail('ERANGE', `${pf} supports at most ${total} VFs`);
  if (link(join(pfDir, 'driver')) === null) fail('ENOENT', `no driver bound to ${pf}; cannot configure SR-IOV`);
  const current = Number(readText(join(pfDir, 'sriov_numvfs'), '0'));
  if (want === current) return;
  if (want !== 0 && current !== 0) fail('EBUSY', `${pf}: ${current} VFs already enabled. Disable before enabling ${want} VFs`);
  if (want === 0) {
    for (const name of virtfns(pfDir).reverse()) removeVf(pfDir, name);
    writeFileSync(join(pfDir, 'sriov_numvfs'), '0\n');
    return;
  }
  const failing = process.env.GPU_BRIDGE_FAKE_KERNEL_FAIL;
  const [faulty, how] = failing && existsSync(failing) ? readFileSync(failing, 'utf8').trim().split(/\s+/) : [];
  if (faulty === pf && how?.startsWith('sriov')) {
    if (how !== 'sriov-always') rmSync(failing);
    fail('EIO', `enabling ${want} VFs on ${pf} failed (test fault)`);
  }
  const created = [];
  for (let k = 0; k < want; k += 1) created.push(addVf(pf, pfDir, k));
  writeFileSync(join(pfDir, 'sriov_numvfs'), `${want}\n`);
  if (readText(join(pfDir, 'sriov_drivers_autoprobe'), '1') !== '0') for (const vf of created) probe(vf);
}

const path = process.argv[2] ?? '';
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const value = Buffer.concat(chunks).toString('utf8').trim();
const rel = relative(pci, path);
if (rel.startsWith('..')) fail('EACCES', `${path} is outside the fake sysfs`);
let m;
if ((m = /^devices\/([^/]+)\/driver_override$/.exec(rel))) {
  writeFileSync(join(deviceDir(m[1]), 'driver_override'), `${value === '' ? '(null)' : value}\n`);
} else if ((m = /^devices\/([^/]+)\/driver\/unbind$/.exec(rel))) {
  const drv = link(join(deviceDir(m[1]), 'driver'));
  if (drv === null) fail('ENOENT', `${path} does not exist (no driver)`);
  unbind(drv, value);
} else if ((m = /^drivers\/([^/]+)\/unbind$/.exec(rel))) unbind(m[1], value);
else if ((m = /^drivers\/([^/]+)\/bind$/.exec(rel))) bind(m[1], value);
else if (rel === 'drivers_probe') probe(value);
else if ((m = /^devices\/([^/]+)\/sriov_numvfs$/.exec(rel))) setNumVfs(m[1], value);
else fail('EACCES', `the fake kernel does not model writes to ${rel}`);
