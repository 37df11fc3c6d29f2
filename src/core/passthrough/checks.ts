import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readIommuGroups, readPciFunctions } from '../inventory/pci';
import { computePlan, readCmdline } from './plan';
import { pathExists, readTextOrNull } from '../util/fs-read';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'unknown';

export interface CheckEvidence {
  file: string;
  value: string;
}

export interface PreflightCheck {
  id: string;
  title: string;
  status: CheckStatus;
  evidence: CheckEvidence[];
  /** What to do about it on this host (its distro, bootloader and initramfs tool), or null when nothing. */
  remedy: string | null;
}

export interface HostBoot {
  distro: string | null;
  bootloader: 'grub' | 'systemd-boot' | 'kernelstub' | 'unknown';
  initramfs: 'initramfs-tools' | 'dracut' | 'mkinitcpio' | 'unknown';
}

const text = readTextOrNull;
const exists = pathExists;

export async function detectBoot(root: string): Promise<HostBoot> {
  const osRelease = await text(join(root, 'etc', 'os-release'));
  const distro = osRelease ? (/^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? /^ID=(\S+)/m.exec(osRelease)?.[1] ?? null) : null;
  let bootloader: HostBoot['bootloader'] = 'unknown';
  if (await exists(join(root, 'etc', 'kernelstub', 'configuration'))) bootloader = 'kernelstub';
  else if (await exists(join(root, 'etc', 'default', 'grub'))) bootloader = 'grub';
  else if ((await exists(join(root, 'boot', 'loader', 'entries'))) || (await exists(join(root, 'efi', 'loader', 'entries')))) bootloader = 'systemd-boot';
  let initramfs: HostBoot['initramfs'] = 'unknown';
  if (await exists(join(root, 'etc', 'initramfs-tools'))) initramfs = 'initramfs-tools';
  else if (await exists(join(root, 'etc', 'dracut.conf.d'))) initramfs = 'dracut';
  else if (await exists(join(root, 'etc', 'mkinitcpio.conf'))) initramfs = 'mkinitcpio';
  return { distro, bootloader, initramfs };
}

/** How to add kernel parameters on this host. */
export function cmdlineRemedy(boot: HostBoot, params: string): string {
  switch (boot.bootloader) {
    case 'grub':
      return `add "${params}" to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then run update-grub (Debian/Ubuntu) or grub2-mkconfig -o /boot/grub2/grub.cfg (Fedora: grubby --update-kernel=ALL --args="${params}"), and reboot`;
    case 'systemd-boot':
      return `append "${params}" to the options line of your entry in /boot/loader/entries/*.conf (or /etc/kernel/cmdline), and reboot`;
    case 'kernelstub':
      return `run: sudo kernelstub -a "${params}", and reboot`;
    default:
      return `add "${params}" to the kernel command line of your bootloader, and reboot`;
  }
}

function initramfsRemedy(boot: HostBoot): string {
  switch (boot.initramfs) {
    case 'initramfs-tools':
      return 'list vfio vfio_iommu_type1 vfio_pci in /etc/initramfs-tools/modules and run update-initramfs -u';
    case 'dracut':
      return 'add force_drivers+=" vfio vfio_iommu_type1 vfio_pci " to /etc/dracut.conf.d/vfio.conf and run dracut -f';
    case 'mkinitcpio':
      return 'add vfio_pci vfio vfio_iommu_type1 to MODULES=() in /etc/mkinitcpio.conf and run mkinitcpio -P';
    default:
      return 'load them with modprobe vfio-pci (install your distribution\'s kernel modules package if it is missing)';
  }
}

/** Processes holding a GPU's device nodes (/dev/nvidia*, /dev/dri/*, /dev/vfio/*), from <root>/proc/<pid>/fd. */
export async function deviceHolders(root: string, match: (target: string) => boolean): Promise<Array<{ pid: number; command: string; path: string }>> {
  const out: Array<{ pid: number; command: string; path: string }> = [];
  let pids: string[] = [];
  try {
    pids = (await readdir(join(root, 'proc'))).filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = await readdir(join(root, 'proc', pid, 'fd'));
    } catch {
      continue;
    }
    for (const fd of fds) {
      const target = await readlink(join(root, 'proc', pid, 'fd', fd)).catch(() => '');
      if (target && match(target)) {
        const command = ((await text(join(root, 'proc', pid, 'comm'))) ?? '?').trim();
        out.push({ pid: Number(pid), command, path: target });
        break;
      }
    }
  }
  return out;
}

const DISPLAY_MANAGERS = new Set(['gdm', 'gdm3', 'sddm', 'lightdm', 'Xorg', 'Xwayland', 'gnome-shell', 'kwin_wayland', 'nvidia-persistenced']);

/**
 * The host checks of the passthrough wizard, each with the evidence it read and a remedy for this host.
 * `target` (a GPU address) adds the checks about that GPU. Reads `root` (`/` or a snapshot) only.
 */
export async function runChecks(root: string, target?: string, options: { snapshot?: boolean } = {}): Promise<{ boot: HostBoot; checks: PreflightCheck[] }> {
  const boot = await detectBoot(root);
  const checks: PreflightCheck[] = [];
  const cpuinfo = await text(join(root, 'proc', 'cpuinfo'));
  const cmdline = await readCmdline(root);
  const fns = await readPciFunctions(root);
  const groups = await readIommuGroups(root);
  // A served snapshot (`serve --from`) may hold only part of a host (the examples: a PCI tree): what it did
  // not record is neither present nor absent. A live /sys always has sys/module, and `gpu-bridge snapshot`
  // records it and proc/ always; other trees (GPU_BRIDGE_HOST_ROOT, tests) read missing files as absent.
  const live = !options.snapshot;
  const modulesRecorded = live || (await exists(join(root, 'sys', 'module')));
  const kernelRecorded = modulesRecorded || (await exists(join(root, 'sys', 'kernel'))) || (await exists(join(root, 'sys', 'firmware')));
  const unreadable = live ? '(not readable)' : '(not recorded in this snapshot)';

  // CPU virtualization
  const flags = cpuinfo ? (/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/) : [];
  const vmx = flags.includes('vmx');
  const svm = flags.includes('svm');
  checks.push({
    id: 'cpu-virtualization',
    title: 'CPU virtualization (VT-x / AMD-V)',
    status: cpuinfo === null ? 'unknown' : vmx || svm ? 'pass' : 'fail',
    evidence: [{ file: '/proc/cpuinfo', value: cpuinfo === null ? unreadable : vmx ? 'flags: vmx' : svm ? 'flags: svm' : 'no vmx or svm flag' }],
    remedy: vmx || svm || (cpuinfo === null && !live) ? null : 'enable Intel VT-x / AMD SVM in the firmware (BIOS/UEFI) setup',
  });

  // Firmware IOMMU table
  const dmar = await exists(join(root, 'sys', 'firmware', 'acpi', 'tables', 'DMAR'));
  const ivrs = await exists(join(root, 'sys', 'firmware', 'acpi', 'tables', 'IVRS'));
  checks.push({
    id: 'firmware-iommu',
    title: 'Firmware IOMMU (ACPI DMAR/IVRS table)',
    status: dmar || ivrs ? 'pass' : kernelRecorded ? 'fail' : 'unknown',
    evidence: [{ file: '/sys/firmware/acpi/tables', value: dmar ? 'DMAR present' : ivrs ? 'IVRS present' : kernelRecorded ? 'no DMAR or IVRS table' : unreadable }],
    remedy: dmar || ivrs || !kernelRecorded ? null : 'enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup',
  });

  // Kernel IOMMU
  const amd = svm || ivrs;
  const iommuParam = cmdline === null ? null : /(^|\s)(intel_iommu=on|amd_iommu=(on|force_isolation))(\s|$)/.exec(cmdline)?.[2] ?? null;
  const needParam = !amd && iommuParam === null;
  checks.push({
    id: 'kernel-iommu',
    title: 'Kernel IOMMU (groups exist)',
    status: groups.size > 0 ? (needParam ? 'warn' : 'pass') : kernelRecorded ? 'fail' : 'unknown',
    evidence: [
      { file: '/sys/kernel/iommu_groups', value: groups.size > 0 || kernelRecorded ? `${groups.size} groups` : unreadable },
      { file: '/proc/cmdline', value: cmdline ?? unreadable },
    ],
    remedy: (groups.size > 0 && !needParam) || (groups.size === 0 && !kernelRecorded) ? null : cmdlineRemedy(boot, amd ? 'amd_iommu=on iommu=pt' : 'intel_iommu=on iommu=pt'),
  });
  const pt = cmdline !== null && /(^|\s)iommu=pt(\s|$)/.test(cmdline);
  checks.push({
    id: 'iommu-pt',
    title: 'iommu=pt (optional: host devices skip IOMMU translation)',
    status: cmdline === null ? 'unknown' : pt ? 'pass' : 'warn',
    evidence: [{ file: '/proc/cmdline', value: cmdline === null ? unreadable : pt ? 'iommu=pt' : 'no iommu=pt' }],
    remedy: pt || (cmdline === null && !live) ? null : `optional: ${cmdlineRemedy(boot, 'iommu=pt')}`,
  });

  // vfio modules
  const loaded = await Promise.all(['vfio', 'vfio_iommu_type1', 'vfio_pci'].map(async (m) => [m, await exists(join(root, 'sys', 'module', m))] as const));
  const allLoaded = loaded.every(([, yes]) => yes);
  checks.push({
    id: 'vfio-modules',
    title: 'vfio, vfio_iommu_type1, vfio_pci loaded or built in',
    status: allLoaded ? 'pass' : modulesRecorded ? 'warn' : 'unknown',
    evidence: modulesRecorded ? loaded.map(([m, yes]) => ({ file: `/sys/module/${m}`, value: yes ? 'present' : 'absent' })) : [{ file: '/sys/module', value: unreadable }],
    remedy: allLoaded || !modulesRecorded ? null : `the helper loads vfio-pci when binding; to load it at boot, ${initramfsRemedy(boot)}`,
  });

  // ACS override
  const acs = cmdline !== null && /(^|\s)pcie_acs_override=/.test(cmdline);
  checks.push({
    id: 'acs-override',
    title: 'No ACS override patch in use',
    status: cmdline === null ? 'unknown' : acs ? 'warn' : 'pass',
    evidence: [{ file: '/proc/cmdline', value: cmdline === null ? unreadable : acs ? (/pcie_acs_override=\S*/.exec(cmdline ?? '')?.[0] ?? '') : 'no pcie_acs_override' }],
    remedy: acs ? 'the IOMMU groups are split by the ACS override patch: isolation between the VM and the host is not guaranteed; prefer a slot with its own group' : null,
  });

  if (target !== undefined) {
    const plan = await computePlan(root, target);
    const gpu = fns.find((f) => f.address === target);
    const shared = plan.blockers.find((b) => b.code === 'GROUP_SHARED');
    const members = gpu?.iommuGroup !== null && gpu?.iommuGroup !== undefined ? (groups.get(gpu.iommuGroup) ?? []) : [];
    checks.push({
      id: 'iommu-group',
      title: `IOMMU group of ${target}`,
      status: plan.viable ? 'pass' : 'fail',
      evidence: [
        { file: `/sys/bus/pci/devices/${target}/iommu_group`, value: gpu?.iommuGroup === null || gpu === undefined ? '(none)' : String(gpu.iommuGroup) },
        ...members.map((m) => {
          const f = fns.find((x) => x.address === m);
          return { file: `/sys/kernel/iommu_groups/${gpu?.iommuGroup}/devices/${m}`, value: `class ${f?.classCode ?? '?'}, driver ${f?.driver ?? 'none'}${f?.isBridge ? ' (bridge, stays)' : ''}` };
        }),
      ],
      remedy: plan.viable
        ? null
        : shared
          ? `move the GPU to a slot whose group holds only its own functions (usually the CPU-attached x16 slot); sharing with ${shared.devices.join(', ')} would hand them to the VM too`
          : (plan.blockers[0]?.message ?? null),
    });
    if (plan.optional.length > 0) {
      checks.push({
        id: 'functions-split',
        title: "The card's other functions in other IOMMU groups stay on the host",
        status: 'pass',
        evidence: plan.optional.map((o) => ({ file: `/sys/bus/pci/devices/${o.address}/iommu_group`, value: `${o.group ?? 'none'} (${o.role}, ${o.driver ?? 'no driver'})` })),
        remedy: 'only the GPU, its group and its audio move; tick one in the plan (or pass --with ADDRESS) if the VM needs it',
      });
    }
    checks.push({
      id: 'boot-vga',
      title: 'Not the boot/primary GPU',
      status: gpu?.bootVga === null || gpu === undefined ? 'unknown' : gpu.bootVga ? 'warn' : 'pass',
      evidence: [{ file: `/sys/bus/pci/devices/${target}/boot_vga`, value: gpu?.bootVga === null || gpu === undefined ? '(absent)' : gpu.bootVga ? '1' : '0' }],
      remedy: gpu?.bootVga ? 'the host display goes dark while this GPU is passed through: use another GPU (or the iGPU) for the host, or work over SSH / the web UI' : null,
    });
    const holders = await deviceHolders(root, (p) => p.startsWith('/dev/nvidia') || p.startsWith('/dev/dri/'));
    const named = holders.filter((h) => DISPLAY_MANAGERS.has(h.command)).length;
    checks.push({
      id: 'gpu-holders',
      title: 'No process holds the GPU',
      status: holders.length === 0 ? 'pass' : 'warn',
      evidence: holders.length === 0 ? [{ file: '/proc/*/fd', value: 'no process holds /dev/nvidia* or /dev/dri/*' }] : holders.map((h) => ({ file: `/proc/${h.pid}/fd`, value: `${h.command} (pid ${h.pid}) holds ${h.path}` })),
      remedy: holders.length === 0 ? null : `stop ${holders.map((h) => `${h.command} (pid ${h.pid})`).join(', ')} before binding${named ? ' (a display manager or nvidia-persistenced: systemctl stop it)' : ''}`,
    });
    const reset = gpu?.resetMethod ?? null;
    const amdBug = plan.warnings.some((w) => w.code === 'AMD_RESET_BUG');
    checks.push({
      id: 'reset',
      title: 'GPU can be reset between VM runs',
      status: reset === null ? 'unknown' : reset.length === 0 || amdBug ? 'warn' : 'pass',
      evidence: [{ file: `/sys/bus/pci/devices/${target}/reset_method`, value: reset === null ? '(absent: kernel older than 5.15 or no reset)' : reset.join(' ') || '(empty)' }],
      remedy: amdBug ? 'install vendor-reset (github.com/gnif/vendor-reset) for this AMD family' : reset !== null && reset.length === 0 ? 'the GPU may not come back until the host reboots' : null,
    });
    if (gpu?.sriovTotalVfs) {
      checks.push({ id: 'sriov', title: 'SR-IOV virtual functions', status: 'pass', evidence: [{ file: `/sys/bus/pci/devices/${target}/sriov_totalvfs`, value: String(gpu.sriovTotalVfs) }], remedy: 'a virtual function can be passed through instead while the host keeps the GPU' });
    }
  }
  return { boot, checks };
}
