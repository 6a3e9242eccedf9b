#!/usr/bin/env bash
# tests/vm/run.sh VMDIR TEST [FILE...]: boots the kernel of tests/vm/build.sh
# under qemu (TCG) with an initramfs of its base, the gateway's binaries
# (LIFELINE_BUILD) with their libraries, the given files in /test/, and runs
# /test/TEST there after making a gpio-sim chip "lifeline-sim0" of 16 named
# lines (in0..in7, out0..out7) and loading softdog (soft_noboot: it logs
# "softdog: Triggered" instead of rebooting). The guest's exit status comes back through
# isa-debug-exit: this script exits with it (0 pass). The console log is
# VMDIR/vm.log.
set -euo pipefail
VM=$(cd "$1" && pwd)
TEST=$2
shift 2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIFELINE_BUILD:-$ROOT/build}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cp -a "$VM/root" "$WORK/root"
R="$WORK/root"
mkdir -p "$R/test"
cp "$(dirname "$0")/lib.sh" "$R/test/"
for f in "$@"; do cp "$f" "$R/test/"; done
# the gateway and what it links (the host is bookworm, like the guest's userland)
# (VM_EXTRA_BINS: more programs by path, with their libraries: the GPIO
# latency benchmark brings mosquitto and mosquitto_sub)
for b in "$BUILD/lifelined" "$BUILD/lifelinectl" ${VM_EXTRA_BINS:-}; do
  cp "$b" "$R/usr/bin/"
  ldd "$b" | awk '/=> \// { print $3 } /^\t\/lib64/ { print $1 }' | while read -r lib; do
    mkdir -p "$R$(dirname "$lib")"
    cp -Ln "$lib" "$R$lib"
  done
done
cp -Ln /lib64/ld-linux-x86-64.so.2 "$R/lib64/" 2>/dev/null || true
cat > "$R/init" <<INIT
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc none /proc
mount -t sysfs none /sys
mount -t devtmpfs none /dev
mount -t tmpfs none /tmp
mount -t tmpfs none /run
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
insmod /lib/modules/configfs.ko
# the board's watchdog: one that logs instead of rebooting, for the tests
insmod /lib/modules/watchdog.ko
insmod /lib/modules/softdog.ko soft_noboot=1
insmod /lib/modules/gpio-sim.ko
mount -t configfs none /sys/kernel/config
C=/sys/kernel/config/gpio-sim/sim0
mkdir \$C \$C/bank0
echo 16 > \$C/bank0/num_lines
echo lifeline-sim0 > \$C/bank0/label
for i in 0 1 2 3 4 5 6 7; do
  mkdir \$C/bank0/line\$i; echo in\$i > \$C/bank0/line\$i/name
  mkdir \$C/bank0/line\$((i + 8)); echo out\$i > \$C/bank0/line\$((i + 8))/name
done
echo 1 > \$C/live
export SIM_SYSFS=/sys/devices/platform/\$(cat \$C/dev_name)/\$(cat \$C/bank0/chip_name)
echo "VM-READY chip \$(cat \$C/bank0/chip_name) at \$SIM_SYSFS"
cd /test
sh /test/$TEST
RC=\$?
echo "VM-TEST-RC=\$RC"
printf "\\\\\$(printf %o \$RC)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
INIT
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc -R +0:+0 2>/dev/null | gzip -1) > "$WORK/initramfs.cpio.gz"
set +e
timeout "${VM_TIMEOUT:-300}" qemu-system-x86_64 -m 512 -smp 1 -kernel "$VM/vmlinuz" -initrd "$WORK/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet" -display none -serial stdio -monitor none -no-reboot \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null >"$VM/vm.log" 2>&1
rc=$?
set -e
# isa-debug-exit: qemu exits (guest_rc << 1) | 1
if [ $rc -eq 124 ]; then echo "vm: timed out (see $VM/vm.log)" >&2; exit 124; fi
if [ $((rc & 1)) -eq 0 ]; then echo "vm: the guest died before its test ended (qemu $rc; see $VM/vm.log)" >&2; exit 125; fi
grc=$((rc >> 1))
grep -q "^VM-TEST-RC=$grc" "$VM/vm.log" || { echo "vm: no result line in $VM/vm.log" >&2; exit 125; }
exit $grc
