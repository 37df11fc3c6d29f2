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
