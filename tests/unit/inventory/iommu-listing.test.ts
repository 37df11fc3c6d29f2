import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIommuListing, writeListingSnapshot, type ListingDevice } from '../../../src/core/inventory/iommu-listing';
import { readIommuGroups, readPciFunctions } from '../../../src/core/inventory/pci';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'iommu-groups');

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gpu-bridge-listing-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let n = 0;
const freshRoot = () => join(tmp, `root-${++n}`);

const one = (text: string): ListingDevice => {
  const { devices } = parseIommuListing(text);
  expect(devices).toHaveLength(1);
  return devices[0] as ListingDevice;
};

/** A line of MapManagement/gpu-passthrough's hardware/tested_hardware.md, as published. */
const NAVI21 =
  'IOMMU Group 18 08:00.0 VGA compatible controller [0300]: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 [Radeon RX 6950 XT] [1002:73a5] (rev c0)';

describe('parseIommuListing: the formats met in the wild', () => {
  it('reads `IOMMU Group N:` headers with tab-indented devices', () => {
    const { devices, problems } = parseIommuListing(
      'IOMMU Group 2:\n\t00:01.0 PCI bridge [0604]: Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16) [8086:1901] (rev 0d)\n' +
        '\t01:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU104 [GeForce RTX 2060] [10de:1e89] (rev a1)\n',
    );
    expect(problems).toEqual([]);
    expect(devices).toEqual([
      { address: '0000:00:01.0', group: 2, classCode: '0604', vendorId: '8086', deviceId: '1901', name: 'Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16)', truncated: false },
      { address: '0000:01:00.0', group: 2, classCode: '0300', vendorId: '10de', deviceId: '1e89', name: 'NVIDIA Corporation TU104 [GeForce RTX 2060]', truncated: false },
    ]);
  });

  it('reads `IOMMU group N` (no colon, lower case, space-indented) and `IOMMU GROUP N` with `(N)` before each device', () => {
    expect(one('IOMMU group 1\n  01:00.1 Audio device [0403]: NVIDIA Corporation Device [10de:0fba] (rev a1)\n')).toMatchObject({ address: '0000:01:00.1', group: 1, classCode: '0403', vendorId: '10de', deviceId: '0fba' });
    expect(one('IOMMU GROUP 38\n (38) 15:00.0 VGA compatible controller [0300]: Advanced Micro Devices, Inc. [AMD/ATI] Raphael [1002:164e] (rev c1)\n')).toMatchObject({
      address: '0000:15:00.0',
      group: 38,
      vendorId: '1002',
      deviceId: '164e',
      name: 'Advanced Micro Devices, Inc. [AMD/ATI] Raphael',
    });
  });

  it('reads the one-line for-loop output, with or without the domain, with `#` or `>` quoting and CRLF', () => {
    const { devices, problems } = parseIommuListing(
      [
        'IOMMU Group 13 02:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU104 [GeForce RTX 2080 Rev. A] [10de:1e87] (rev a1)',
        'IOMMU group 2 0000:02:00.1 Audio device [0403]: NVIDIA Corporation TU104 HD Audio Controller [10de:10f8] (rev a1)',
        '#IOMMU Group 29 \t01:00.1 VGA compatible controller [0300]: Matrox Electronics Systems Ltd. MGA G200EH [102b:0533]',
        '> IOMMU Group: 7 07:00.3 Serial bus controller [0c80]: NVIDIA Corporation TU104 USB Type-C UCSI Controller [10de:1ad9] (rev a1)   ',
      ].join('\r\n'),
    );
    expect(problems).toEqual([]);
    expect(devices.map((d) => [d.address, d.group, d.classCode, d.vendorId, d.deviceId, d.truncated])).toEqual([
      ['0000:02:00.0', 13, '0300', '10de', '1e87', false],
      ['0000:02:00.1', 2, '0403', '10de', '10f8', false],
      ['0000:01:00.1', 29, '0300', '102b', '0533', false],
      ['0000:07:00.3', 7, '0c80', '10de', '1ad9', false],
    ]);
    expect(devices[0]?.name).toBe('NVIDIA Corporation TU104 [GeForce RTX 2080 Rev. A]');
  });

  it('takes the class before the first `: ` and the LAST [vvvv:dddd] of the line, whatever brackets the name has', () => {
    expect(
      one('IOMMU Group 9 00:07.1 PCI bridge [0604]: Advanced Micro Devices, Inc. [AMD] Starship/Matisse Internal PCIe GPP Bridge 0 to bus[E:B] [1022:1484]'),
    ).toMatchObject({ classCode: '0604', vendorId: '1022', deviceId: '1484', name: 'Advanced Micro Devices, Inc. [AMD] Starship/Matisse Internal PCIe GPP Bridge 0 to bus[E:B]' });
    expect(one('IOMMU Group 13 00:18.0 Host bridge [0600]: Advanced Micro Devices, Inc. [AMD] Matisse/Vermeer Data Fabric: Device 18h; Function 0 [1022:1440]')).toMatchObject({
      classCode: '0600',
      vendorId: '1022',
      deviceId: '1440',
    });
    // Upper-case hex is read as lower case.
    expect(one('IOMMU Group 1 0A:00.0 VGA compatible controller [0300]: X [10DE:1B80]')).toMatchObject({ address: '0000:0a:00.0', vendorId: '10de', deviceId: '1b80' });
  });

  it('skips prose, commands, elisions and `lspci -k` lines without calling them problems', () => {
    const { devices, problems } = parseIommuListing(
      [
        'shows the IOMMU groups for your host. Mine are:',
        '```',
        "for d in /sys/kernel/iommu_groups/*/devices/*; do n=${d#*/iommu_groups/*}; printf 'IOMMU Group %s ' \"$n\"; done",
        'IOMMU Group 2 07:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU104 [GeForce RTX 2060] [10de:1e89] (rev a1)',
        '<...>',
        '\tKernel driver in use: nouveau',
        '[    0.811098] pci 0000:00:01.0: Adding to iommu group 0',
        '# sata disk',
        'IOMMU groups are the smallest unit of isolation',
        '```',
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(devices.map((d) => d.address)).toEqual(['0000:07:00.0']);
  });

  it('names devices outside any group, bad addresses, duplicates and cut headers in problems, and never places them by guess', () => {
    const { devices, problems } = parseIommuListing(
      [
        '01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [10de:1b80] (rev a1)',
        'IOMMU Group 3:',
        '\t01:20.0 VGA compatible controller [0300]: bad device number [10de:1b80]',
        '\t02:00.0 Audio device [0403]: Foo [1002:aaf0]',
        'IOMMU Group 4 02:00.0 Audio device [0403]: Foo [1002:aaf0]',
        'IOMMU Gro',
        '\t03:00.0 USB controller [0c03]: Bar [1022:149c]',
      ].join('\n'),
    );
    expect(devices.map((d) => [d.address, d.group])).toEqual([['0000:02:00.0', 3]]);
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/0000:01:00\.0 is listed outside any IOMMU group/);
    expect(problems[1]).toMatch(/"01:20\.0" is not a PCI address/);
    expect(problems[2]).toMatch(/0000:02:00\.0 is listed again, in group 4 after group 3/);
    expect(problems[3]).toMatch(/header cut off/);
    expect(problems[4]).toMatch(/0000:03:00\.0 is listed outside any IOMMU group/);
  });

  it('keeps a device of plain `lspci` (no -nn) with its class unknown, and says it cannot be planned', () => {
    const { devices, problems } = parseIommuListing('IOMMU Group 1:\n\t01:00.0 VGA compatible controller: NVIDIA Corporation TU106 [GeForce RTX 2070] (rev a1)\n');
    expect(devices).toEqual([{ address: '0000:01:00.0', group: 1, classCode: null, vendorId: null, deviceId: null, name: 'NVIDIA Corporation TU106 [GeForce RTX 2070] (rev a1)', truncated: false }]);
    expect(problems).toEqual([expect.stringMatching(/0000:01:00\.0 has no \[class\].*cannot be planned/)]);
  });
});

describe('parseIommuListing: lines cut off', () => {
  // No listing of the published corpus is cut mid-line, so a real line (MapManagement/gpu-passthrough) is cut here.
  const cut = (end: string) => NAVI21.slice(0, NAVI21.indexOf(end) + end.length);
  const cases: [string, string, Partial<ListingDevice>][] = [
    ['right after the address', cut('08:00.0'), { classCode: null, vendorId: null, deviceId: null, truncated: true, name: '' }],
    ['inside the class name', cut('VGA compat'), { classCode: null, vendorId: null, deviceId: null, truncated: true }],
    ['inside the class code', cut('[03'), { classCode: null, vendorId: null, deviceId: null, truncated: true }],
    ['right after the class code', cut('[0300]'), { classCode: '0300', vendorId: null, deviceId: null, truncated: true }],
    ['right after the class colon', cut('[0300]:'), { classCode: '0300', vendorId: null, deviceId: null, truncated: true, name: '' }],
    ['inside a bracketed vendor', cut('[AMD/A'), { classCode: '0300', vendorId: null, deviceId: null, truncated: true, name: 'Advanced Micro Devices, Inc.' }],
    ['inside the marketing name', cut('[Radeon RX 69'), { classCode: '0300', vendorId: null, deviceId: null, truncated: true, name: 'Advanced Micro Devices, Inc. [AMD/ATI] Navi 21' }],
    ['inside the vendor id', cut('[100'), { classCode: '0300', vendorId: null, deviceId: null, truncated: true, name: 'Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 [Radeon RX 6950 XT]' }],
    ['inside the device id', cut('[1002:7'), { classCode: '0300', vendorId: null, deviceId: null, truncated: true }],
    ['before the closing bracket of the id', cut('[1002:73a5'), { classCode: '0300', vendorId: null, deviceId: null, truncated: true }],
    ['right after the id', cut('[1002:73a5]'), { classCode: '0300', vendorId: '1002', deviceId: '73a5', truncated: false }],
    ['inside the revision', cut('(rev c'), { classCode: '0300', vendorId: '1002', deviceId: '73a5', truncated: true }],
    ['nowhere (the whole line)', NAVI21, { classCode: '0300', vendorId: '1002', deviceId: '73a5', truncated: false, name: 'Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 [Radeon RX 6950 XT]' }],
  ];
  it.each(cases)('%s', (_what, line, expected) => {
    const { devices, problems } = parseIommuListing(`${line}\nIOMMU Group 19 08:00.1 Audio device [0403]: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21/23 HDMI/DP Audio Controller [1002:ab28]\n`);
    expect(devices).toHaveLength(2);
    expect(devices[0]).toMatchObject({ address: '0000:08:00.0', group: 18, ...expected });
    expect(devices[1]).toMatchObject({ address: '0000:08:00.1', group: 19, vendorId: '1002', deviceId: 'ab28', truncated: false });
    const d = devices[0] as ListingDevice;
    if (d.classCode === null) expect(problems).toEqual([expect.stringMatching(/0000:08:00\.0's line is cut off before its class: it cannot be planned/)]);
    else if (d.vendorId === null) expect(problems).toEqual([expect.stringMatching(/0000:08:00\.0's vendor:device id is cut off/)]);
    else expect(problems).toEqual([]);
  });

  it('gives no device, and a problem, for a line cut inside its address', () => {
    for (const line of ['IOMMU Group 18 08:00.', 'IOMMU Group 18 08:0', '\t0000:08', 'IOMMU Group 18 0000:08:00']) {
      const { devices, problems } = parseIommuListing(line);
      expect(devices).toEqual([]);
      expect(problems).toEqual([expect.stringMatching(/cut off inside its address/)]);
    }
  });

  it('cut anywhere, a real listing never yields a wrong group, class or id: only fewer devices and nulls', async () => {
    const names = (await readdir(FIXTURES)).filter((f) => f.endsWith('.txt')).sort();
    for (const name of names) {
      const text = await readFile(join(FIXTURES, name), 'utf8');
      const whole = new Map(parseIommuListing(text).devices.map((d) => [d.address, d]));
      for (let at = 0; at <= text.length; at += 11) {
        for (const d of parseIommuListing(text.slice(0, at)).devices) {
          const w = whole.get(d.address);
          expect(w, `${name} cut at ${at}: ${d.address}`).toBeDefined();
          if (!w) continue;
          expect(d.group).toBe(w.group);
          if (d.classCode !== null) expect(d.classCode).toBe(w.classCode);
          if (d.vendorId !== null) expect([d.vendorId, d.deviceId]).toEqual([w.vendorId, w.deviceId]);
          if (d.classCode === null || d.vendorId === null) expect(d.truncated).toBe(true);
        }
      }
    }
  });
});

describe('parseIommuListing: every published listing of the corpus', () => {
  it('reads every device line of every fixture whole, with no problem', async () => {
    const names = (await readdir(FIXTURES)).filter((f) => f.endsWith('.txt')).sort();
    expect(names.length).toBeGreaterThanOrEqual(12);
    for (const name of names) {
      const text = await readFile(join(FIXTURES, name), 'utf8');
      const { devices, problems } = parseIommuListing(text);
      expect(problems, name).toEqual([]);
      const addressLines = text.split('\n').filter((l) => /\b[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] \S/.test(l));
      expect(devices.length, name).toBe(addressLines.length);
      for (const d of devices) {
        expect(d, `${name} ${d.address}`).toMatchObject({ truncated: false, classCode: expect.stringMatching(/^[0-9a-f]{4}$/), vendorId: expect.stringMatching(/^[0-9a-f]{4}$/), deviceId: expect.stringMatching(/^[0-9a-f]{4}$/) });
        expect(d.name.length, `${name} ${d.address}`).toBeGreaterThan(0);
      }
    }
  });
});

describe('parseIommuListing: hostile input', () => {
  it('never throws on random text and always returns well-formed devices', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => {
        const { devices, problems } = parseIommuListing(s);
        expect(Array.isArray(problems)).toBe(true);
        for (const d of devices) {
          expect(d.address).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/);
          expect(Number.isSafeInteger(d.group)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on listing-shaped noise', () => {
    const piece = fc.constantFrom('IOMMU Group ', 'IOMMU group', '12', ':', ' ', '\t', '\n', '0000:', '01:00.0', '08:00.', '[0300]', '[03', ': ', '[10de:1e89]', '[10de:', '(rev a1)', '(rev', '[', ']', '(', ')', '#', '>', 'VGA compatible controller', '(7)');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
        const { devices } = parseIommuListing(parts.join(''));
        for (const d of devices) {
          if (d.vendorId !== null) expect(d.vendorId).toMatch(/^[0-9a-f]{4}$/);
          if (d.classCode !== null) expect(d.classCode).toMatch(/^[0-9a-f]{4}$/);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('returns within a second on 1 MB inputs, huge lines included', () => {
    const mb = 1 << 20;
    const inputs = [
      'IOMMU Group 1:\n\t01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [10de:1b80] (rev a1)\n'.repeat(Math.ceil(mb / 100)),
      `IOMMU Group 1 01:00.0 VGA [0300]: ${'['.repeat(mb)}`,
      `IOMMU Group 1 01:00.0 VGA [0300]: ${'[10de:1b80] ('.repeat(mb / 13)}`,
      `IOMMU group${' '.repeat(mb)}x`,
      `IOMMU${' '.repeat(mb)}g`,
      `${'0'.repeat(mb)}`,
      `01:00.0 ${': '.repeat(mb / 2)}`,
      '\n'.repeat(mb),
      Array.from({ length: mb }, (_, i) => String.fromCharCode((i * 7919) % 256)).join(''),
    ];
    for (const input of inputs) {
      const t0 = performance.now();
      parseIommuListing(input);
      expect(performance.now() - t0, input.slice(0, 30)).toBeLessThan(1000);
    }
  });

  it('does not throw on a value that is not text', () => {
    expect(parseIommuListing(undefined as unknown as string)).toEqual({ devices: [], problems: ['the listing is not text'] });
  });
});

describe('writeListingSnapshot', () => {
  it('writes a host snapshot in which readPciFunctions and readIommuGroups find every device', async () => {
    const root = freshRoot();
    const { devices } = parseIommuListing(
      [
        'IOMMU Group 2:',
        '\t00:01.0 PCI bridge [0604]: Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16) [8086:1901] (rev 0d)',
        '\t01:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU104 [GeForce RTX 2060] [10de:1e89] (rev a1)',
        '\t01:00.1 Audio device [0403]: NVIDIA Corporation TU104 HD Audio Controller [10de:10f8] (rev a1)',
        'IOMMU Group 40 0001:c1:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 40GB] [10de:20f1] (rev a1)',
      ].join('\n'),
    );
    await writeListingSnapshot(root, devices, { drivers: (d) => (d.classCode === '0604' ? 'pcieport' : d.classCode === '0300' ? 'nouveau' : undefined) });
    const fns = await readPciFunctions(root);
    expect(fns.map((f) => [f.address, f.vendorId, f.deviceId, f.classCode, f.iommuGroup, f.driver, f.isBridge])).toEqual([
      ['0000:00:01.0', '8086', '1901', '060400', 2, 'pcieport', true],
      ['0000:01:00.0', '10de', '1e89', '030000', 2, 'nouveau', false],
      ['0000:01:00.1', '10de', '10f8', '040300', 2, null, false],
      ['0001:c1:00.0', '10de', '20f1', '030200', 40, null, false],
    ]);
    const groups = await readIommuGroups(root);
    expect([...groups.entries()]).toEqual([
      [2, ['0000:00:01.0', '0000:01:00.0', '0000:01:00.1']],
      [40, ['0001:c1:00.0']],
    ]);
    expect(await readlink(join(root, 'sys', 'bus', 'pci', 'devices', '0000:01:00.0', 'iommu_group'))).toMatch(/iommu_groups\/2$/);
  });

  it('keeps a device whose ids were cut off (ids unknown, files not written) and leaves out one whose class was cut off', async () => {
    const root = freshRoot();
    const { devices, problems } = parseIommuListing(
      [
        'IOMMU Group 18 08:00.0 VGA compatible controller [0300]: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 [Radeon RX 6950 XT] [1002:7',
        'IOMMU Group 19 08:00.1 Audio device [04',
      ].join('\n'),
    );
    expect(devices.map((d) => [d.address, d.classCode, d.vendorId, d.truncated])).toEqual([
      ['0000:08:00.0', '0300', null, true],
      ['0000:08:00.1', null, null, true],
    ]);
    expect(problems).toEqual([expect.stringMatching(/0000:08:00\.0's vendor:device id is cut off/), expect.stringMatching(/0000:08:00\.1's line is cut off before its class: it cannot be planned/)]);
    await writeListingSnapshot(root, devices);
    const dir = join(root, 'sys', 'bus', 'pci', 'devices');
    expect((await readdir(join(dir, '0000:08:00.0'))).sort()).toEqual(['class', 'iommu_group']);
    expect((await readdir(join(dir, '0000:08:00.1'))).sort()).toEqual(['iommu_group']);
    const fns = await readPciFunctions(root);
    expect(fns.map((f) => [f.address, f.vendorId, f.deviceId, f.classCode, f.iommuGroup])).toEqual([['0000:08:00.0', '', '', '030000', 18]]);
    expect([...(await readIommuGroups(root)).entries()]).toEqual([
      [18, ['0000:08:00.0']],
      [19, ['0000:08:00.1']],
    ]);
  });

  it('writes every device of every fixture so that readPciFunctions finds it', async () => {
    const names = (await readdir(FIXTURES)).filter((f) => f.endsWith('.txt')).sort();
    for (const name of names) {
      const root = freshRoot();
      const { devices } = parseIommuListing(await readFile(join(FIXTURES, name), 'utf8'));
      await writeListingSnapshot(root, devices);
      const fns = await readPciFunctions(root);
      expect(fns.map((f) => f.address), name).toEqual(devices.map((d) => d.address).sort());
      for (const f of fns) {
        const d = devices.find((x) => x.address === f.address) as ListingDevice;
        expect([f.vendorId, f.deviceId, f.classCode, f.iommuGroup], `${name} ${f.address}`).toEqual([d.vendorId, d.deviceId, `${d.classCode}00`, d.group]);
      }
    }
  });

  it('writes a device listed twice once, and ignores driver names that are not names', async () => {
    const root = freshRoot();
    const d: ListingDevice = { address: '0000:01:00.0', group: 1, classCode: '0300', vendorId: '10de', deviceId: '1b80', name: 'x', truncated: false };
    await writeListingSnapshot(root, [d, { ...d, group: 2 }], { drivers: () => '../../evil' });
    const fns = await readPciFunctions(root);
    expect(fns.map((f) => [f.address, f.iommuGroup, f.driver])).toEqual([['0000:01:00.0', 1, null]]);
  });
});
