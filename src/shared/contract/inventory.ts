import { z } from 'zod';
import { method } from './define';

/** One PCI function in a GPU's IOMMU group (or one of its sibling functions). */
export const PciMember = z.object({
  address: z.string().describe("full BDF, e.g. '0000:01:00.1'"),
  vendorId: z.string().nullable(),
  deviceId: z.string().nullable(),
  classCode: z.string().nullable().describe("six hex digits, e.g. '040300'"),
  driver: z.string().nullable(),
  isBridge: z.boolean(),
});
export type PciMember = z.infer<typeof PciMember>;

export const Encoders = z.object({
  h264: z.boolean().nullable(),
  hevc: z.boolean().nullable(),
  av1: z.boolean().nullable(),
});
export type Encoders = z.infer<typeof Encoders>;

export const MigDevice = z.object({
  index: z.number().int().nullable(),
  gpuInstanceId: z.number().int().nullable(),
  computeInstanceId: z.number().int().nullable(),
  memoryTotalBytes: z.number().nullable(),
  memoryUsedBytes: z.number().nullable(),
  multiprocessorCount: z.number().int().nullable(),
});
export type MigDevice = z.infer<typeof MigDevice>;

export const NvidiaDetails = z.object({
  uuid: z.string().nullable(),
  driverVersion: z.string().nullable(),
  cudaVersion: z.string().nullable(),
  brand: z.string().nullable().describe('product_brand, e.g. GeForce, NVIDIA, Quadro'),
  architecture: z.string().nullable().describe('e.g. Turing, Ampere, Ada Lovelace, Hopper'),
  vbiosVersion: z.string().nullable(),
  virtualizationMode: z.string().nullable().describe('None, Pass-Through, VGPU, Host VGPU, ...'),
  migMode: z.string().nullable().describe('Enabled, Disabled, or null where MIG does not apply'),
  migDevices: z.array(MigDevice),
  memoryUsedBytes: z.number().nullable(),
  temperatureC: z.number().nullable(),
  powerDrawW: z.number().nullable(),
  powerLimitW: z.number().nullable(),
  clocksMHz: z.object({
    graphics: z.number().nullable(),
    sm: z.number().nullable(),
    memory: z.number().nullable(),
    video: z.number().nullable(),
  }),
  encoderSessions: z.number().int().nullable(),
  source: z.enum(['nvml', 'nvidia-smi']),
});
export type NvidiaDetails = z.infer<typeof NvidiaDetails>;

export const Gpu = z.object({
  address: z.string().describe("full BDF, e.g. '0000:01:00.0'"),
  vendor: z.enum(['nvidia', 'amd', 'intel', 'other']),
  vendorId: z.string().nullable(),
  deviceId: z.string().nullable(),
  subsystemVendorId: z.string().nullable(),
  subsystemDeviceId: z.string().nullable(),
  classCode: z.string().nullable(),
  name: z.string().nullable(),
  driver: z.string().nullable(),
  driverOverride: z.string().nullable(),
  iommuGroup: z.number().int().nullable(),
  groupMembers: z.array(PciMember).describe('every function in the IOMMU group, the GPU itself included'),
  functions: z.array(PciMember).describe('the functions of the same slot (audio, USB, UCSI...), the GPU itself included'),
  bootVga: z.boolean().nullable(),
  numaNode: z.number().int().nullable(),
  resetMethod: z.array(z.string()).nullable(),
  sriov: z.object({
    totalVfs: z.number().int().nullable(),
    numVfs: z.number().int().nullable(),
    physfn: z.string().nullable().describe('the physical function, when this GPU is a virtual function'),
    vfs: z
      .array(z.object({ address: z.string(), iommuGroup: z.number().int().nullable(), driver: z.string().nullable() }))
      .describe('the virtual functions enabled now (virtfn links), each with its own IOMMU group'),
  }),
  pcie: z.object({
    currentGen: z.number().nullable(),
    maxGen: z.number().nullable(),
    currentWidth: z.number().nullable(),
    maxWidth: z.number().nullable(),
  }),
  memoryTotalBytes: z.number().nullable(),
  encoders: Encoders.describe('hardware encoding per codec; null where unknown'),
  encoderSessionLimit: z
    .union([z.number().int(), z.literal('unlimited')])
    .nullable()
    .describe('concurrent NVENC sessions the driver allows (GeForce) or unlimited (professional)'),
  nvidia: NvidiaDetails.nullable(),
  sources: z.array(z.enum(['sysfs', 'nvml', 'nvidia-smi', 'pci.ids', 'chip-table', 'ffmpeg', 'samples'])).describe('where the record came from; samples: a snapshot\'s recorded metrics (its name and memory)'),
});
export type Gpu = z.infer<typeof Gpu>;

export const HostInfo = z.object({
  cpuModel: z.string().nullable(),
  cpuCores: z.number().int().nullable().describe('logical CPUs'),
  memoryTotalBytes: z.number().nullable(),
  os: z.string().nullable(),
  kernel: z.string().nullable(),
  virtualization: z.object({
    vmx: z.boolean().nullable().describe('Intel VT-x flag'),
    svm: z.boolean().nullable().describe('AMD-V flag'),
    hypervisor: z.boolean().nullable().describe('this host is itself a VM guest'),
  }),
  firmwareIommu: z.enum(['DMAR', 'IVRS']).nullable().describe('ACPI table announcing an IOMMU'),
  cmdline: z.string().nullable(),
});
export type HostInfo = z.infer<typeof HostInfo>;

export const Inventory = z.object({
  gpus: z.array(Gpu),
  host: HostInfo,
  displayControllers: z.array(PciMember).describe('every PCI display controller (class 0x03xx) seen'),
  ffmpegNvenc: Encoders.nullable().describe(
    'NVENC encoders the installed ffmpeg offers (`ffmpeg -encoders`), to cross-check the chip table; null where ffmpeg was not found, or (live) where there is no NVIDIA GPU to use them',
  ),
  warnings: z.array(z.string()).describe('files that could not be read or parsed'),
});
export type Inventory = z.infer<typeof Inventory>;

export const inventoryMethods = {
  'inventory.get': method({
    description: 'Every GPU in the host with its IOMMU group, driver, memory and encoder capabilities, plus host facts.',
    params: z.object({ refresh: z.boolean().optional() }).strict().optional(),
    result: Inventory,
  }),
};

export const inventoryEvents = {};
