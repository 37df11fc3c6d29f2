#!/usr/bin/env node
// A fake kernel for a fake sysfs tree (tests/helpers/fake-sysfs.ts). The privileged helper runs it in
// place of `tee` (GPU_BRIDGE_HELPER_WRITER, honoured only with GPU_BRIDGE_HELPER_ROOT): same argv (the
// path), same stdin (the value). Like a sysfs write, it returns only once the "kernel" has acted:
//   devices/<BDF>/driver_override  stores the value ("(null)" when empty)
//   drivers/<drv>/unbind           (also through devices/<BDF>/driver/unbind) removes the driver link;
//                                  the last vfio-pci device of a group takes /dev/vfio/<group> with it
//   drivers/<drv>/bind             links the device to <drv> (vfio-pci also creates /dev/vfio/<group>)
//   drivers_probe                  binds an unbound device to its driver_override, else to its native driver
// Environment: GPU_BRIDGE_HELPER_ROOT (the tree), GPU_BRIDGE_FAKE_KERNEL_DRIVERS (JSON {BDF: native
// driver}), GPU_BRIDGE_FAKE_KERNEL_FAIL (optional file: "BDF" fails that device's next probe with EIO,
// "BDF always" every probe of it).
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
  if (faulty === bdf) {
    if (how !== 'always') rmSync(failing); // a transient fault: the next probe works
    fail('EIO', `probe of ${bdf} failed (test fault)`);
  }
  const override = readFileSync(join(dev, 'driver_override'), 'utf8').trim();
  const drv = override !== '' && override !== '(null)' ? override : native[bdf];
  if (drv && existsSync(join(pci, 'drivers', drv))) bind(drv, bdf);
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
else fail('EACCES', `the fake kernel does not model writes to ${rel}`);
