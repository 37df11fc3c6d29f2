// The scripts the real-kernel VFIO test runs inside the guest. The project's own helper does the work;
// these only observe (driver links, /dev/vfio, the kernel's VFIO_GROUP_GET_STATUS) and play the VM
// that holds the device open.

export const GUEST_SH = String.raw`
H="node --jitless /project/out/helper/index.mjs"
P="/usr/bin/python3 /project/.cache/vfio-kernel/holder.py"
export GPU_BRIDGE_HELPER_STATE_DIR=/tmp/gb-state
GPU=""; AUD=""
for d in /sys/bus/pci/devices/*; do
  case "$(cat $d/class)" in 0x030000) GPU=$(basename $d);; 0x040300) AUD=$(basename $d);; esac
done
drv() { l=$(readlink /sys/bus/pci/devices/$1/driver); if [ -n "$l" ]; then basename $l; else echo none; fi; }
l=$(readlink /sys/bus/pci/devices/$GPU/iommu_group); GROUP=$(basename $l)
node_state() { if [ -e /dev/vfio/$GROUP ]; then echo node; else echo nonode; fi; }
journal() { if [ -e /tmp/gb-state/journal.json ]; then echo journal; else echo nojournal; fi; }
echo "GBTEST T.start $(cut -d' ' -f1 /proc/uptime)"
echo "GBTEST topology $GPU $AUD $GROUP $(drv $GPU) $(drv $AUD)"
echo "GBTEST members $(ls /sys/kernel/iommu_groups/$GROUP/devices | tr '\n' ' ')"

# A: bind through the plan, prove the group viable, restore
t0=$(date +%s)
out=$($H bind $GPU); echo "GBTEST A.bind rc=$? $out"
echo "GBTEST A.bound $(drv $GPU) $(drv $AUD) $(node_state)"
echo "GBTEST A.viable $($P status $GROUP)"
out=$($H restore $GPU); echo "GBTEST A.restore rc=$? $out"
echo "GBTEST A.restored $(drv $GPU) $(drv $AUD) $(node_state) $(journal) secs=$(( $(date +%s) - t0 ))"

echo "GBTEST T.A $(cut -d' ' -f1 /proc/uptime)"
# B: the helper dies mid-way (audio moved, GPU not yet); the journal rolls it back
GPU_BRIDGE_HELPER_PAUSE_AFTER_STEPS=3 $H bind $GPU >/tmp/b.out 2>/tmp/b.err &
pid=$!
i=0; while ! grep -q paused /tmp/b.err 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
kill -9 $pid; wait $pid 2>/dev/null
echo "GBTEST B.killed $(drv $GPU) $(drv $AUD) $(journal)"
out=$($H rollback); echo "GBTEST B.rollback rc=$? $out"
echo "GBTEST B.after $(drv $GPU) $(drv $AUD) $(node_state) $(journal)"

echo "GBTEST T.B $(cut -d' ' -f1 /proc/uptime)"
# C: a process holds the device: restore refuses (group fd visible) or times out (only the device fd held)
out=$($H bind $GPU); echo "GBTEST C.bind rc=$? $(echo "$out" | head -c 60)"
rm -f /tmp/hold1 /tmp/hold2
$P hold-group $GROUP $GPU /tmp/hold1 & hp=$!
i=0; while [ ! -e /tmp/hold1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo "GBTEST C.holder1 $hp $(cat /tmp/hold1)"
out=$($H restore $GPU); echo "GBTEST C.busy rc=$? $out"
kill $hp; wait $hp 2>/dev/null
$P hold-device $GROUP $GPU /tmp/hold2 & hp=$!
i=0; while [ ! -e /tmp/hold2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo "GBTEST C.holder2 $hp $(cat /tmp/hold2)"
t0=$(date +%s)
out=$($H restore $GPU --timeout-ms 3000); rc=$?
echo "GBTEST C.timeout rc=$rc secs=$(( $(date +%s) - t0 )) $out"
kill $hp; wait $hp 2>/dev/null
sleep 2
out=$($H rollback); echo "GBTEST C.rollback rc=$? $out"
echo "GBTEST C.after $(drv $GPU) $(drv $AUD) $(node_state) $(journal)"
echo "GBTEST T.C $(cut -d' ' -f1 /proc/uptime)"
`;

export const HOLDER_PY = String.raw`
import ctypes, os, sys, time
mode, group = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
VFIO_SET_IOMMU, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD = 0x3B66, 0x3B67, 0x3B68, 0x3B6A
g = os.open('/dev/vfio/' + group, os.O_RDWR)
status = (ctypes.c_uint32 * 2)(8, 0)
if libc.ioctl(g, VFIO_GROUP_GET_STATUS, ctypes.addressof(status)) != 0:
    print('error', ctypes.get_errno()); sys.exit(1)
if mode == 'status':
    print('viable' if status[1] & 1 else 'not-viable'); sys.exit(0)
bdf, marker = sys.argv[3], sys.argv[4]
c = os.open('/dev/vfio/vfio', os.O_RDWR)
cfd = ctypes.c_int(c)
assert libc.ioctl(g, VFIO_GROUP_SET_CONTAINER, ctypes.addressof(cfd)) == 0, ctypes.get_errno()
assert libc.ioctl(c, VFIO_SET_IOMMU, 3) == 0, ctypes.get_errno()
name = ctypes.create_string_buffer(bdf.encode())
d = libc.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, ctypes.addressof(name))
assert d >= 0, ctypes.get_errno()
if mode == 'hold-device':
    os.close(g); os.close(c)
with open(marker, 'w') as f:
    f.write('device-fd=%d' % d)
while True:
    time.sleep(60)
`;

// The SR-IOV test's guest (tests/integration/vfio-sriov-qemu.test.ts): QEMU's emulated NVMe with SR-IOV.
// The helper sets the number of VFs, binds one VF to vfio-pci and back, is refused while a VF is on
// vfio-pci, and is killed half-way (a VF bind, an SR-IOV change) and rolled back. VF autoprobe is off:
// nvme's probe of a VF that has no queue resources assigned fails asynchronously ("Device not ready;
// aborting initialisation, CSTS=0x2", then "Removing after probe failure") about half a second later,
// so with autoprobe on a VF's driver depends on when one looks.
export const SRIOV_GUEST_SH = String.raw`
H="node --jitless /project/out/helper/index.mjs"
export GPU_BRIDGE_HELPER_STATE_DIR=/tmp/gb-state
PF=""
for d in /sys/bus/pci/devices/*; do
  if [ "$(cat $d/class)" = 0x010802 ] && [ -e $d/sriov_totalvfs ]; then PF=$(basename $d); break; fi
done
S=/sys/bus/pci/devices/$PF
drv() { l=$(readlink /sys/bus/pci/devices/$1/driver); if [ -n "$l" ]; then basename $l; else echo none; fi; }
grp() { l=$(readlink /sys/bus/pci/devices/$1/iommu_group); if [ -n "$l" ]; then basename $l; else echo none; fi; }
vfs() { for v in $S/virtfn*; do [ -e "$v" ] && basename $(readlink $v); done | tr '\n' ' '; }
node_of() { if [ -e /dev/vfio/$(grp $1) ]; then echo node; else echo nonode; fi; }
journal() { if [ -e /tmp/gb-state/journal.json ]; then echo journal; else echo nojournal; fi; }
override() { o=$(cat /sys/bus/pci/devices/$1/driver_override); echo "override=$o"; }
killed_after() { # steps, log name, helper arguments...: run the helper with the test hook, kill it once paused
  n=$1; name=$2; shift 2
  GPU_BRIDGE_HELPER_PAUSE_AFTER_STEPS=$n $H "$@" >/tmp/$name.out 2>/tmp/$name.err &
  pid=$!
  i=0; while ! grep -q paused /tmp/$name.err 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
  kill -9 $pid; wait $pid 2>/dev/null
}
echo "GBTEST T.start $(cut -d' ' -f1 /proc/uptime)"
echo "GBTEST pf $PF $(drv $PF) $(cat $S/sriov_totalvfs) $(cat $S/sriov_numvfs) $(grp $PF)"
echo 0 > $S/sriov_drivers_autoprobe

# a: two VFs, each in its own IOMMU group; the kernel refuses a non-zero count to another (EBUSY)
out=$($H sriov $PF 2); echo "GBTEST a.sriov rc=$? $out"
set -- $(vfs); VF1=$1; VF2=$2
echo "GBTEST a.vfs $(cat $S/sriov_numvfs) $VF1 $(grp $VF1) $(drv $VF1) $VF2 $(grp $VF2) $(drv $VF2)"
echo "GBTEST a.members $(ls /sys/kernel/iommu_groups/$(grp $VF1)/devices) $(ls /sys/kernel/iommu_groups/$(grp $VF2)/devices)"
echo "GBTEST a.physfn $(basename $(readlink /sys/bus/pci/devices/$VF1/physfn)) $(grp $PF)"
err=$(echo 1 2>&1 > $S/sriov_numvfs); echo "GBTEST a.ebusy rc=$? $(cat $S/sriov_numvfs) $err"
echo "GBTEST T.a $(cut -d' ' -f1 /proc/uptime)"

# b: VF1 to vfio-pci; the PF stays on nvme, VF2 untouched
out=$($H bind $VF1); echo "GBTEST b.bind rc=$? $out"
echo "GBTEST b.state $(drv $VF1) $(node_of $VF1) $(drv $PF) $(drv $VF2) $(override $VF2)"

# c: no SR-IOV change while VF1 is on vfio-pci
out=$($H sriov $PF 0); echo "GBTEST c.busy rc=$? $out"
echo "GBTEST c.state $(cat $S/sriov_numvfs) $(drv $VF1) $(journal)"

# d: VF1 back
out=$($H restore $VF1); echo "GBTEST d.restore rc=$? $out"
echo "GBTEST d.state $(drv $VF1) $(node_of $VF1) $(override $VF1) $(journal)"
echo "GBTEST T.d $(cut -d' ' -f1 /proc/uptime)"

# g: a bind of VF2 killed after its two writes (override, probe), before it verified and recorded
killed_after 2 g bind $VF2
echo "GBTEST g.killed $(drv $VF2) $(node_of $VF2) $(journal)"
out=$($H rollback); echo "GBTEST g.rollback rc=$? $out"
echo "GBTEST g.after $(drv $VF2) $(node_of $VF2) $(override $VF2) $(journal)"

# e: VFs off
out=$($H sriov $PF 0); echo "GBTEST e.sriov rc=$? $out"
echo "GBTEST e.state $(cat $S/sriov_numvfs) [$(vfs)] $(drv $PF)"
echo "GBTEST T.e $(cut -d' ' -f1 /proc/uptime)"

# f: enabling killed after its write, before it verified: the rollback puts the previous 0 back
killed_after 1 f sriov $PF 2
echo "GBTEST f.killed $(cat $S/sriov_numvfs) $(journal)"
out=$($H rollback); echo "GBTEST f.rollback rc=$? $out"
echo "GBTEST f.after $(cat $S/sriov_numvfs) [$(vfs)] $(journal) $(drv $PF)"
echo "GBTEST T.f $(cut -d' ' -f1 /proc/uptime)"

# h: 2 -> 1 on the real kernel: the helper goes through 0 (a direct 2 -> 1 is EBUSY, see a.ebusy)
out=$($H sriov $PF 2); echo "GBTEST h.two rc=$? $(echo "$out" | head -c 60)"
out=$($H sriov $PF 1); echo "GBTEST h.one rc=$? $out"
echo "GBTEST h.state $(cat $S/sriov_numvfs) [$(vfs)] $(journal) $(drv $PF)"
echo "GBTEST T.h $(cut -d' ' -f1 /proc/uptime)"
`;
