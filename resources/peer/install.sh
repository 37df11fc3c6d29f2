#!/bin/sh
# GPU Bridge peer installer: the executable to /usr/local/bin, a system user, a private state directory
# (keys, pairings), and the systemd unit gpu-bridge-peer.service (enabled and started).
#   sudo ./install.sh                 install (or upgrade) and start
#   sudo ./install.sh --uninstall     stop and remove everything but the keys and pairings
#   sudo ./install.sh --uninstall --purge   remove those too
#   ./install.sh --root DIR [...]     write under DIR instead of / (no user, no systemctl: for tests and images)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=""
action=install
purge=no
while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) action=uninstall ;;
    --purge) purge=yes ;;
    --root) root=${2:?--root needs a directory}; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

user=gpu-bridge-peer
bin="$root/usr/local/bin/gpu-bridge-peer"
lib="$root/usr/local/lib/gpu-bridge-peer"
state="$root/var/lib/gpu-bridge-peer"
unit="$root/etc/systemd/system/gpu-bridge-peer.service"
live=no
[ -z "$root" ] && live=yes

if [ "$live" = yes ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run it as root (sudo ./install.sh), or with --root DIR to write under DIR" >&2
  exit 1
fi
has_systemd() { [ "$live" = yes ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

if [ "$action" = uninstall ]; then
  if has_systemd; then
    systemctl disable --now gpu-bridge-peer.service 2>/dev/null || true
  fi
  rm -f "$unit" "$bin"
  rm -rf "$lib"
  has_systemd && systemctl daemon-reload
  if [ "$purge" = yes ]; then
    rm -rf "$state"
    if [ "$live" = yes ] && id "$user" >/dev/null 2>&1; then userdel "$user" 2>/dev/null || true; fi
    echo "GPU Bridge peer removed, with its keys and pairings."
  else
    echo "GPU Bridge peer removed. Its keys and pairings stay in $state (install.sh --uninstall --purge removes them)."
  fi
  exit 0
fi

command -v ffmpeg >/dev/null 2>&1 || echo "install.sh: note: ffmpeg is not installed; the peer needs it to decode (apt-get install ffmpeg)" >&2

# the executable lives with koffi (its one native module) and the rtp receiver's data plane (native/) in
# $lib; /usr/local/bin gets a link to it
mkdir -p "$lib" "$(dirname "$bin")" "$(dirname "$unit")"
rm -rf "$lib/node_modules" "$lib/native"
cp -R "$here/node_modules" "$lib/node_modules"
if [ -d "$here/native" ]; then cp -R "$here/native" "$lib/native"; fi
install -m 0755 "$here/gpu-bridge-peer" "$lib/gpu-bridge-peer"
ln -sf /usr/local/lib/gpu-bridge-peer/gpu-bridge-peer "$bin"
install -m 0644 "$here/gpu-bridge-peer.service" "$unit"

if [ "$live" = yes ] && ! id "$user" >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/gpu-bridge-peer --no-create-home --shell /usr/sbin/nologin --user-group "$user"
fi
mkdir -p "$state"
chmod 0700 "$state"
[ "$live" = yes ] && chown "$user:$user" "$state"

if has_systemd; then
  systemctl daemon-reload
  systemctl enable --now gpu-bridge-peer.service
  systemctl restart gpu-bridge-peer.service
  echo "GPU Bridge peer $(cat "$here/VERSION" 2>/dev/null) installed and running (systemctl status gpu-bridge-peer)."
  echo "Pair it: sudo -u $user gpu-bridge-peer pair --config-dir /var/lib/gpu-bridge-peer"
else
  echo "GPU Bridge peer installed under ${root:-/}; no systemd here: start it with"
  echo "  gpu-bridge-peer run --headless --config-dir /var/lib/gpu-bridge-peer"
fi
