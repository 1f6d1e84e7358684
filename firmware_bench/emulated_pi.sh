#!/usr/bin/env bash
# An emulated Raspberry Pi for users without one: Debian bookworm arm64 (the base of Raspberry
# Pi OS 64-bit) under qemu user-mode emulation. Installs edge-ecg[runtime] there with pip, runs
# `edge-ecg demo`, and checks the int8 model's outputs equal this machine's within one
# quantization step (firmware_bench/pi_check.py). Emulated timings say nothing about a real Pi:
# this checks correctness only.
#
#   sudo firmware_bench/emulated_pi.sh [ROOTFS_DIR] [RESULT_JSON]
#
# Needs root and, from apt: qemu-user-static debootstrap binfmt-support. ~5-15 minutes, ~1 GB.
# The rootfs is kept for reruns (delete it yourself; this script unmounts what it mounted).
set -euo pipefail

ROOT="${1:-/var/tmp/edge-ecg-pi}"
RESULT="${2:-docs/bench/emulated-pi.json}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$HERE/.venv/bin/python}"
# qemu's default CPU model made XNNPACK return wrong int8 outputs; a Pi 4 is a Cortex-A72.
export QEMU_CPU=cortex-a72

die() { echo "emulated_pi: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
for tool in qemu-aarch64-static debootstrap chroot; do
    command -v "$tool" >/dev/null || die "$tool missing: apt-get install qemu-user-static debootstrap binfmt-support"
done
[ -x "$PY" ] || die "$PY: no Python with edge-ecg installed on this machine (set PYTHON=...)"
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "binfmt_misc has no qemu-aarch64 entry"

mounted=()
cleanup() {
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

if [ ! -x "$ROOT/opt/venv/bin/edge-ecg" ]; then
    if [ ! -e "$ROOT/etc/debian_version" ] || [ -d "$ROOT/debootstrap" ]; then
        echo "== debootstrap bookworm arm64 into $ROOT"
        debootstrap --arch=arm64 --foreign --variant=minbase \
            --include=python3,python3-venv,ca-certificates bookworm "$ROOT" "$MIRROR"
        cp /usr/bin/qemu-aarch64-static "$ROOT/usr/bin/"
        chroot "$ROOT" /debootstrap/debootstrap --second-stage
    fi
fi

mount -t proc proc "$ROOT/proc" && mounted+=("$ROOT/proc")
# The host's x86 /proc/cpuinfo makes LiteRT skip XNNPACK: give it a Pi 4's.
cat > "$ROOT/tmp/cpuinfo" <<'EOF'
processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

processor	: 1
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

Hardware	: BCM2835
Model		: Raspberry Pi 4 Model B Rev 1.4
EOF
mount --bind "$ROOT/tmp/cpuinfo" "$ROOT/proc/cpuinfo" && mounted+=("$ROOT/proc/cpuinfo")
# Without /sys/devices/system/cpu/{possible,present} XNNPACK is not created and LiteRT falls
# back to its builtin kernels, whose int8 outputs differ (up to 9 steps here); bind-mounting
# the host's /sys crashed it. A fake 4-core list is enough.
mount -t tmpfs sysfs-stub "$ROOT/sys" && mounted+=("$ROOT/sys")
mkdir -p "$ROOT/sys/devices/system/cpu/cpu"{0,1,2,3}
for f in possible present online; do echo 0-3 > "$ROOT/sys/devices/system/cpu/$f"; done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Behind a TLS-inspecting proxy pip needs the host's CA bundle too.
HOST_CA="${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"
cp "$HOST_CA" "$ROOT/etc/ssl/certs/host-ca-bundle.crt"
# Run inside the Pi with a clean environment (none of this machine's pip settings).
pi() {
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
        QEMU_CPU="$QEMU_CPU" PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 "$@"
}

echo "== edge-ecg[runtime] into the emulated Pi (pip, aarch64 wheels)"
rm -rf "$ROOT/opt/edge-ecg"
mkdir -p "$ROOT/opt/edge-ecg"
git -C "$HERE" archive HEAD | tar -x -C "$ROOT/opt/edge-ecg"
# The working tree's pi_check may be newer than HEAD's while it is being developed.
cp "$HERE/firmware_bench/pi_check.py" "$ROOT/opt/edge-ecg/firmware_bench/"
[ -x "$ROOT/opt/venv/bin/python" ] || pi python3 -m venv /opt/venv
pi /opt/venv/bin/pip install -q "/opt/edge-ecg[runtime]"
pi /opt/venv/bin/python -c "import platform; print('machine:', platform.machine())"

echo "== edge-ecg demo (emulated, timings meaningless)"
pi /opt/venv/bin/edge-ecg demo

echo "== int8 outputs: this machine vs the emulated Pi"
"$PY" -m firmware_bench.pi_check dump "$ROOT/tmp/host.npz"
pi /opt/venv/bin/python -m firmware_bench.pi_check dump /tmp/pi.npz --inputs /tmp/host.npz
"$PY" -m firmware_bench.pi_check compare "$ROOT/tmp/host.npz" "$ROOT/tmp/pi.npz" --json "$RESULT"
