import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIommuListing, writeListingSnapshot } from '../../../src/core/inventory/iommu-listing';
import { computePlan, type DeviceRole } from '../../../src/core/passthrough/plan';
import { computePlan as helperPlan } from '../../../src/helper/sysfs';
import { FIXTURES, listingDriver, listingRoot } from './fixture-host';

/**
 * The passthrough plan against real published layouts (tests/fixtures/SOURCES-passthrough.md). Each
 * expectation was worked out by hand from the listing and the plan's rules:
 * - devices: the non-bridge members of the target's group; the GPU's own audio (0403/0401 in the same
 *   slot) with its group when that group holds nothing outside the slot; what `with` asks for;
 * - the card's own functions: its slot's, and those of the GPU's vendor behind the card's own PCIe switch
 *   (the upstream port of the GPU's vendor two levels above it, whose subtree holds no other GPU), read
 *   from the bridge tree the snapshot rebuilds from the listing's bus numbers;
 * - optional: the card's other non-bridge functions in other groups (and the audio whose group holds
 *   strangers), left on the host unless asked for; host-critical ones (PSP, SMBus, LPC...) never;
 * - bridges never move; GROUP_SHARED when a group that must move holds non-bridge devices that are not the card's.
 */

type Pair = [address: string, role: DeviceRole];
interface Case {
  target: string;
  with?: string[];
  devices: Pair[];
  optional: [address: string, role: DeviceRole, group: number][];
  /** The slot's host-critical functions, never offered ([] when left out). */
  hostOnly?: string[];
  /** The card's own switch (null when left out). */
  cardSwitch?: string;
  /** Why a device moves, where the case says it. */
  why?: Record<string, string>;
  /** The warning codes, in order, where the case says them. */
  warnings?: string[];
  blockers: { code: string; devices?: string[] }[];
  viable: boolean;
}

const A = (bdf: string) => `0000:${bdf}`;

/** Whether the listing's bridge tree is rebuilt from its bus numbers ('rebuilt'), or why not. */
type Tree = 'rebuilt' | RegExp;
const NO_BRIDGE_TO = (bus: string) => new RegExp(`bus 0000:${bus} has devices but no bridge leads to it by depth-first numbering`);

const CORPUS: Record<string, { about: string; tree: Tree; cases: Case[] }> = {
  'Sean-Mitchell-HomeLab__granite-ridge-chipset__arc-a310-arc-pro-b50-aspeed.txt': {
    about:
      'Granite Ridge board: Arc A310 behind the chipset, its card switch, GPU and audio in one group with the chipset port; Arc Pro B50 on the CPU, every port of its switch in its own group; the ASPEED BMC VGA; the APU slot with its PSP',
    tree: 'rebuilt',
    cases: [
      {
        // The issue's host: 0a:00.0 is the A310's own HDMI audio, on the next bus behind the card's own switch 07:00.0.
        target: A('09:00.0'),
        devices: [[A('09:00.0'), 'gpu'], [A('0a:00.0'), 'audio']],
        optional: [],
        cardSwitch: A('07:00.0'),
        why: { [A('09:00.0')]: 'the GPU', [A('0a:00.0')]: "in IOMMU group 17 with the GPU (behind the card's own switch 0000:07:00.0)" },
        warnings: [],
        blockers: [],
        viable: true,
      },
      {
        // The B50's audio is alone in group 15: it moves with the GPU, as the AMD split audio does.
        target: A('03:00.0'),
        devices: [[A('03:00.0'), 'gpu'], [A('04:00.0'), 'audio']],
        optional: [],
        cardSwitch: A('01:00.0'),
        why: { [A('04:00.0')]: "the GPU's own audio (behind the card's own switch 0000:01:00.0), in IOMMU group 15, which holds nothing else" },
        warnings: [],
        blockers: [],
        viable: true,
      },
      { target: A('0c:00.0'), devices: [[A('0c:00.0'), 'gpu']], optional: [], warnings: ['BMC_CONSOLE'], blockers: [], viable: true },
      {
        target: A('12:00.0'),
        devices: [[A('12:00.0'), 'gpu']],
        optional: [
          [A('12:00.3'), 'usb', 26],
          [A('12:00.4'), 'usb', 27],
        ],
        hostOnly: [A('12:00.2')],
        blockers: [],
        viable: true,
      },
      {
        target: A('12:00.0'),
        with: [A('12:00.2')],
        devices: [[A('12:00.0'), 'gpu']],
        optional: [
          [A('12:00.3'), 'usb', 26],
          [A('12:00.4'), 'usb', 27],
        ],
        hostOnly: [A('12:00.2')],
        blockers: [{ code: 'HOST_CRITICAL', devices: [A('12:00.2')] }],
        viable: false,
      },
    ],
  },
  'MapManagement-gpu-passthrough__gigabyte-b550-aorus-pro__rx6950xt-rx550.txt': {
    about: 'B550: RX 6950 XT behind its Navi switch, audio in its own group; RX 550 behind the chipset, shared with USB/SATA/NIC',
    tree: 'rebuilt',
    cases: [
      // the RX 6950 XT sits behind its own Navi switch (1002:1478 upstream, 1479 downstream); its audio is of its slot anyway
      { target: A('08:00.0'), devices: [[A('08:00.0'), 'gpu'], [A('08:00.1'), 'audio']], optional: [], cardSwitch: A('06:00.0'), blockers: [], viable: true },
      {
        target: A('04:00.0'),
        devices: [
          [A('02:00.0'), 'usb'],
          [A('02:00.1'), 'storage'],
          [A('04:00.0'), 'gpu'],
          [A('04:00.1'), 'audio'],
          [A('05:00.0'), 'network'],
        ],
        optional: [],
        blockers: [{ code: 'GROUP_SHARED', devices: [A('02:00.0'), A('02:00.1'), A('05:00.0')] }],
        viable: false,
      },
    ],
  },
  'SamuraisEpic-vfio-gpu-passthrough__asus-prime-b550-plus-ryzen5-5600g__cezanne-rtx2060.txt': {
    about: 'Cezanne APU with every function of 09:00 in its own group; RTX 2060 with its audio in one group',
    tree: 'rebuilt',
    cases: [
      {
        target: A('09:00.0'),
        // 09:00.6 is the chipset's HD audio (AMD 1022:15e3, the host's speakers), not the GPU's own HDMI audio
        // (ATI 1002): it shares the slot but not the GPU's vendor, so it stays unless asked for.
        devices: [[A('09:00.0'), 'gpu'], [A('09:00.1'), 'audio']],
        // 09:00.2 is the platform security processor (PSP/CCP, class 1080): the host's, never offered.
        optional: [
          [A('09:00.3'), 'usb', 13],
          [A('09:00.4'), 'usb', 14],
          [A('09:00.6'), 'audio', 15],
        ],
        hostOnly: [A('09:00.2')],
        blockers: [],
        viable: true,
      },
      {
        target: A('09:00.0'),
        with: [A('09:00.3')],
        devices: [[A('09:00.0'), 'gpu'], [A('09:00.1'), 'audio'], [A('09:00.3'), 'usb']],
        optional: [
          [A('09:00.4'), 'usb', 14],
          [A('09:00.6'), 'audio', 15],
        ],
        hostOnly: [A('09:00.2')],
        blockers: [],
        viable: true,
      },
      { target: A('01:00.0'), devices: [[A('01:00.0'), 'gpu'], [A('01:00.1'), 'audio']], optional: [], blockers: [], viable: true },
    ],
  },
  'Naunter-Device-Passthrough-Notes__asrock-b550-phantom-gaming-itx-ax__cezanne.txt': {
    about: 'Cezanne APU (0000: domain in the listing), every function of 05:00 in its own group',
    tree: 'rebuilt',
    cases: [
      {
        target: A('05:00.0'),
        devices: [[A('05:00.0'), 'gpu'], [A('05:00.1'), 'audio']],
        optional: [
          [A('05:00.3'), 'usb', 17],
          [A('05:00.4'), 'usb', 18],
          [A('05:00.6'), 'audio', 19],
        ],
        hostOnly: [A('05:00.2')],
        blockers: [],
        viable: true,
      },
      {
        // Asking for the PSP (class 1080) used to move it: it is the host's platform security processor
        // (firmware TPM, memory encryption), so it is refused as an extra now.
        target: A('05:00.0'),
        with: [A('05:00.2')],
        devices: [[A('05:00.0'), 'gpu'], [A('05:00.1'), 'audio']],
        optional: [
          [A('05:00.3'), 'usb', 17],
          [A('05:00.4'), 'usb', 18],
          [A('05:00.6'), 'audio', 19],
        ],
        hostOnly: [A('05:00.2')],
        blockers: [{ code: 'HOST_CRITICAL', devices: [A('05:00.2')] }],
        viable: false,
      },
    ],
  },
  'zephyrwc3-amd_7950x_raphael_vbios__ryzen9-7950x__raphael-rtx3060.txt': {
    about: 'Raphael iGPU with every function of 15:00 in its own group; RTX 3060 with its audio in another group',
    tree: NO_BRIDGE_TO('02'),
    cases: [
      { target: A('01:00.0'), devices: [[A('01:00.0'), 'gpu'], [A('01:00.1'), 'audio']], optional: [], blockers: [], viable: true },
      {
        target: A('15:00.0'),
        devices: [[A('15:00.0'), 'gpu'], [A('15:00.1'), 'audio']],
        optional: [
          [A('15:00.3'), 'usb', 41],
          [A('15:00.4'), 'usb', 42],
          [A('15:00.6'), 'audio', 43],
        ],
        hostOnly: [A('15:00.2')],
        blockers: [],
        viable: true,
      },
    ],
  },
  'Nixuge-Single-GPU-Passthrough__zen-kernel-acs-override__rtx2080.txt': {
    about: 'RTX 2080 with VGA, audio, USB and UCSI each in its own group',
    tree: NO_BRIDGE_TO('26'),
    cases: [
      {
        target: A('27:00.0'),
        devices: [[A('27:00.0'), 'gpu'], [A('27:00.1'), 'audio']],
        optional: [
          [A('27:00.2'), 'usb', 28],
          [A('27:00.3'), 'serial', 29],
        ],
        blockers: [],
        viable: true,
      },
      {
        target: A('27:00.0'),
        with: [A('27:00.2'), A('27:00.3')],
        devices: [[A('27:00.0'), 'gpu'], [A('27:00.1'), 'audio'], [A('27:00.2'), 'usb'], [A('27:00.3'), 'serial']],
        optional: [],
        blockers: [],
        viable: true,
      },
    ],
  },
  'helloIAmPau-virt-manager__z390-i9-9900k__rtx2060-uhd630.txt': {
    about: 'Z390: RTX 2060 (VGA, audio, USB, UCSI) in the group of its CPU root port; UHD 630 alone',
    tree: 'rebuilt',
    cases: [
      {
        target: A('01:00.0'),
        devices: [[A('01:00.0'), 'gpu'], [A('01:00.1'), 'audio'], [A('01:00.2'), 'usb'], [A('01:00.3'), 'serial']],
        optional: [],
        blockers: [],
        viable: true,
      },
      { target: A('00:02.0'), devices: [[A('00:02.0'), 'gpu']], optional: [], blockers: [], viable: true },
    ],
  },
  'VincentSaelzler-hyper-homelab__x570__rtx2060.txt': {
    about: 'X570: RTX 2060 (four functions) with a host bridge and its GPP bridge in its group',
    tree: NO_BRIDGE_TO('07'),
    cases: [
      {
        target: A('07:00.0'),
        devices: [[A('07:00.0'), 'gpu'], [A('07:00.1'), 'audio'], [A('07:00.2'), 'usb'], [A('07:00.3'), 'serial']],
        optional: [],
        blockers: [],
        viable: true,
      },
    ],
  },
  'danrichardson-Turducken__x570__rx580-gtx1080.txt': {
    about: 'X570: RX 580 and GTX 1080, each audio in a group of its own',
    tree: NO_BRIDGE_TO('07'),
    cases: [
      { target: A('0a:00.0'), devices: [[A('0a:00.0'), 'gpu'], [A('0a:00.1'), 'audio']], optional: [], blockers: [], viable: true },
      { target: A('0b:00.0'), devices: [[A('0b:00.0'), 'gpu'], [A('0b:00.1'), 'audio']], optional: [], blockers: [], viable: true },
    ],
  },
  'alshdavid-labs-vfio-log__x570__rx5700xt.txt': {
    about: 'X570: RX 5700 XT behind its Navi switch bridges, audio in a group of its own',
    tree: NO_BRIDGE_TO('09'),
    cases: [{ target: A('0b:00.0'), devices: [[A('0b:00.0'), 'gpu'], [A('0b:00.1'), 'audio']], optional: [], blockers: [], viable: true }],
  },
  'asokolsky-asokolsky.github.io__duo-z370__gt1030-uhd630.txt': {
    about: 'Z370 (lower-case `IOMMU group N` one-liners): GT 1030 with its root port; UHD 630 alone',
    tree: 'rebuilt',
    cases: [
      { target: A('01:00.0'), devices: [[A('01:00.0'), 'gpu'], [A('01:00.1'), 'audio']], optional: [], blockers: [], viable: true },
      { target: A('00:02.0'), devices: [[A('00:02.0'), 'gpu']], optional: [], blockers: [], viable: true },
    ],
  },
  'J4nsen-4gamers1pc__dual-xeon-e5-c602__gtx1070-gtx770-aspeed.txt': {
    about: 'dual-socket Xeon E5 board: many root ports, GTX 1070 and GTX 770 each with its audio, the BMC VGA behind its AST1150 bridge',
    tree: 'rebuilt',
    cases: [
      { target: A('04:00.0'), devices: [[A('04:00.0'), 'gpu'], [A('04:00.1'), 'audio']], optional: [], blockers: [], viable: true },
      { target: A('05:00.0'), devices: [[A('05:00.0'), 'gpu'], [A('05:00.1'), 'audio']], optional: [], blockers: [], viable: true },
      { target: A('0a:00.0'), devices: [[A('0a:00.0'), 'gpu']], optional: [], warnings: ['BMC_CONSOLE'], blockers: [], viable: true },
    ],
  },
  'hernad-nixos-config-hernad__hp-proliant-dl380p-gen8__matrox-g200eh.txt': {
    about: 'HP ProLiant DL380p Gen8 (`#`-commented listing): the Matrox VGA shares its slot and group with the iLO functions',
    tree: 'rebuilt',
    cases: [
      {
        target: A('01:00.1'),
        devices: [[A('01:00.0'), 'other'], [A('01:00.1'), 'gpu'], [A('01:00.2'), 'other'], [A('01:00.4'), 'usb']],
        optional: [],
        // the G200EH is the iLO's console, and the iLO's own functions (class 0880) leave with it
        warnings: ['BMC_CONSOLE', 'HOST_CRITICAL_MOVES', 'LAST_DISPLAY'],
        blockers: [],
        viable: true,
      },
    ],
  },
};

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gpu-bridge-corpus-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('the passthrough plan on published IOMMU layouts', () => {
  let n = 0;
  for (const [listing, { about, tree, cases }] of Object.entries(CORPUS)) {
    describe(`${listing}: ${about}`, () => {
      it('parses with no problem', async () => {
        const { devices, problems } = await listingRoot(listing, join(tmp, `parse-${++n}`));
        expect(problems).toEqual([]);
        expect(devices.length).toBeGreaterThan(0);
      });
      it(tree === 'rebuilt' ? 'rebuilds its bridge tree from the bus numbers' : 'says why its bridge tree cannot be rebuilt (a slice, or reserved bus numbers)', async () => {
        const { snapshot } = await listingRoot(listing, join(tmp, `tree-${++n}`));
        if (tree === 'rebuilt') expect(snapshot).toEqual({ tree: 'rebuilt', problem: null });
        else {
          expect(snapshot.tree).toBe('none');
          expect(snapshot.problem).toMatch(tree);
        }
      });
      for (const c of cases) {
        it(`${c.target}${c.with ? ` with ${c.with.join(', ')}` : ''}`, async () => {
          const root = join(tmp, `case-${++n}`);
          await listingRoot(listing, root);
          const plan = await computePlan(root, c.target, c.with ? { with: c.with } : {});
          expect(plan.devices.map((d) => [d.address, d.role])).toEqual(c.devices);
          expect(plan.optional.map((o) => [o.address, o.role, o.group])).toEqual(c.optional);
          expect(plan.hostOnly.map((h) => h.address)).toEqual(c.hostOnly ?? []);
          expect(plan.cardSwitch).toBe(c.cardSwitch ?? null);
          for (const [address, why] of Object.entries(c.why ?? {})) expect(plan.devices.find((d) => d.address === address)?.why).toBe(why);
          if (c.warnings) expect(plan.warnings.map((w) => w.code)).toEqual(c.warnings);
          expect(plan.blockers.map((b) => b.code)).toEqual(c.blockers.map((b) => b.code));
          for (const b of c.blockers) {
            if (b.devices) expect(plan.blockers.find((x) => x.code === b.code)?.devices).toEqual(b.devices);
          }
          expect(plan.viable).toBe(c.viable);
          // the privileged helper, reading the same tree on its own, moves exactly the same set or refuses
          if (c.viable) expect(helperPlan(root, c.target, c.with ?? []).devices.map((d) => d.address)).toEqual(c.devices.map(([a]) => a));
          else expect(() => helperPlan(root, c.target, c.with ?? [])).toThrow();
        });
      }
    });
  }
});

describe('the passthrough plan on a published layout cut mid-line', () => {
  // No listing of the corpus is cut mid-line as published, so two lines of a real one are cut here.
  it('keeps a function whose id was cut (ids unknown) and leaves out one whose class was cut, naming it', async () => {
    const text = await readFile(join(FIXTURES, 'Nixuge-Single-GPU-Passthrough__zen-kernel-acs-override__rtx2080.txt'), 'utf8');
    const cutAfter = (line: string, end: string) => {
      const at = text.indexOf(line);
      const stop = text.indexOf(end, at) + end.length;
      return text.slice(0, stop) + text.slice(text.indexOf('\n', at));
    };
    let cut = cutAfter('27:00.3 Serial bus controller', 'UCSI Controller [10de:1a');
    cut = cut.slice(0, cut.indexOf('27:00.2 USB controller [0c') + '27:00.2 USB controller [0c'.length) + cut.slice(cut.indexOf('\n', cut.indexOf('27:00.2 USB')));
    const { devices, problems } = parseIommuListing(cut);
    expect(devices.find((d) => d.address === A('27:00.3'))).toMatchObject({ group: 29, classCode: '0c80', vendorId: null, deviceId: null, truncated: true });
    expect(devices.find((d) => d.address === A('27:00.2'))).toMatchObject({ group: 28, classCode: null, vendorId: null, truncated: true });
    expect(problems).toEqual([expect.stringMatching(/0000:27:00\.2's line is cut off before its class: it cannot be planned/), expect.stringMatching(/0000:27:00\.3's vendor:device id is cut off/)]);
    const root = join(tmp, 'cut');
    await writeListingSnapshot(root, devices, { drivers: listingDriver });
    const plan = await computePlan(root, A('27:00.0'));
    expect(plan.devices.map((d) => [d.address, d.role])).toEqual([[A('27:00.0'), 'gpu'], [A('27:00.1'), 'audio']]);
    expect(plan.optional.map((o) => [o.address, o.role, o.group])).toEqual([[A('27:00.3'), 'serial', 29]]);
    expect(plan.blockers).toEqual([]);
    expect(plan.viable).toBe(true);
  });
});
