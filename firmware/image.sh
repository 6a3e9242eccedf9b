#!/usr/bin/env bash
# firmware/image.sh BOARD OUT: a bootable Debian 12 arm64 root filesystem
# for BOARD (qemu-arm64) with the lifeline package installed, the board's
# overlay and config, and Debian's arm64 kernel, into OUT:
#   OUT/rootfs.img   ext4, the whole root (label lifeline-root)
#   OUT/vmlinuz, OUT/initrd.img   the image's own kernel and initramfs
# This machine has no binfmt_misc, so nothing of arm64 can run in a chroot
# here: debootstrap's first stage unpacks on the host (--foreign), and its
# second stage, the package's installation and the kernel's initramfs run
# inside the image itself, booted once in qemu-system-aarch64 (TCG) from a
# small busybox initramfs made here. Takes the arm64 package from
# build/deb (make deb ARCH=arm64).
set -euo pipefail
BOARD=${1:?usage: image.sh BOARD OUT}
OUT=$(realpath -m "${2:?usage: image.sh BOARD OUT}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARCH=arm64
VERSION=$(cat "$ROOT/VERSION")
DEB="$ROOT/build/deb/lifeline_${VERSION}_$ARCH.deb"
MIRROR=${IMAGE_MIRROR:-http://deb.debian.org/debian}
SIZE=${IMAGE_SIZE:-2G}
say() { echo "image: $*"; }
die() { echo "image: $*" >&2; exit 1; }
[ -d "$ROOT/board/$BOARD" ] || die "no board/$BOARD"
[ -f "$ROOT/board/$BOARD/lifeline.conf" ] || die "board/$BOARD has no lifeline.conf for the image"
[ -f "$DEB" ] || die "$DEB is missing: make deb ARCH=$ARCH"
for t in debootstrap qemu-system-aarch64 mkfs.ext4 debugfs cpio; do
  command -v "$t" >/dev/null || die "$t is missing (make image installs it)"
done
W="$OUT/work"
t0=$(date +%s)
rm -rf "$W" && mkdir -p "$W"

say "first stage: debootstrap --foreign bookworm $ARCH"
R="$W/root"
debootstrap --foreign --arch=$ARCH --variant=minbase \
  --include=systemd,systemd-sysv,udev,kmod,linux-image-arm64,init-system-helpers,iproute2,systemd-timesyncd,libmodbus5,libmosquitto1,libsqlite3-0,libgpiod2,libcjson1,libinih1,libedit2,libpaho-mqtt1.3,libcrypt1 \
  bookworm "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 || { tail -n 20 "$W/debootstrap.log" >&2; die "debootstrap failed"; }
kdeb=$(ls "$R"/var/cache/apt/archives/linux-image-[0-9]*-arm64_*.deb | head -n 1)
KV=$(basename "$kdeb" | sed 's/^linux-image-\([^_]*\)_.*/\1/')

say "the overlay: board $BOARD, its config, the package, the second stage"
# one initramfs, made once at the end of the second stage, of the modules
# this (virtual) board needs: under TCG each update-initramfs takes minutes
# (INITRD=No in the second stage: the kernel's hook skips it)
install -d "$R/etc/initramfs-tools/conf.d"
printf 'MODULES=dep\nCOMPRESS=gzip\n' >"$R/etc/initramfs-tools/conf.d/lifeline.conf"
install -m 0644 "$DEB" "$R/tmp/"
install -D -m 0600 "$ROOT/board/$BOARD/lifeline.conf" "$R/etc/lifeline/lifeline.conf"
echo "lifeline-$BOARD" >"$R/etc/hostname"
printf 'LABEL=lifeline-root / ext4 defaults,noatime 0 1\n' >"$R/etc/fstab"
install -d "$R/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' >"$R/etc/systemd/network/20-wired.network"
console=$(sed -n 's/^console[[:space:]]*=[[:space:]]*//p' "$ROOT/board/$BOARD/board.conf" | head -n 1)
cat >"$R/stage2.sh" <<STAGE2
#!/bin/sh
# run once as PID 1 in qemu: debootstrap's second stage, the package, then off
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
off() { sync; echo o >/proc/sysrq-trigger; sleep 60; }
mounts() { mount -t proc proc /proc 2>/dev/null; mount -t sysfs sys /sys 2>/dev/null; mount -t devtmpfs dev /dev 2>/dev/null; }
mounts
echo "stage2: second stage"
export INITRD=No
/debootstrap/debootstrap --second-stage || { echo "stage2: FAILED: debootstrap"; tail -n 30 /debootstrap/debootstrap.log; off; }
mounts  # the second stage unmounts what it used
echo "stage2: the lifeline package"
dpkg --force-confold -i /tmp/lifeline_*.deb || { echo "stage2: FAILED: dpkg"; off; }
chown lifeline:lifeline /etc/lifeline/lifeline.conf
systemctl enable systemd-networkd.service systemd-timesyncd.service lifelined.service
/usr/share/lifeline/console/install.sh "$console" / >/dev/null 2>&1 || true
passwd -l root >/dev/null
echo "stage2: the initramfs"
unset INITRD
update-initramfs -c -k $KV || { echo "stage2: FAILED: update-initramfs"; off; }
rm -f /tmp/lifeline_*.deb /stage2.sh
apt-get clean
ls /boot
echo "stage2: done"
off
STAGE2
chmod 0755 "$R/stage2.sh"
# the console tooling, for stage2 (it runs as on a board, ROOT=/)
install -D -m 0755 "$ROOT/board/common/console/install.sh" "$R/usr/share/lifeline/console/install.sh"
install -m 0644 "$ROOT/board/common/console/lifeline-tech.sysusers.conf" "$ROOT/board/common/console/serial-getty@.service.d-lifeline.conf" "$R/usr/share/lifeline/console/"

say "the first-boot initramfs: busybox and the modules for virtio disks and ext4"
K="$W/kernel"
mkdir -p "$K"
dpkg-deb -x "$kdeb" "$K"
"$ROOT/firmware/aptroot.sh" $ARCH "$W/apt"
(cd "$W/apt" && APT_CONFIG="$W/apt/apt.conf" apt-get -q download busybox-static >"$W/apt/download.log" 2>&1) ||
  { tail -n 5 "$W/apt/download.log" >&2; die "busybox-static for $ARCH"; }
I="$W/initramfs"
mkdir -p "$I"/{bin,dev,proc,sys,newroot,modules}
dpkg-deb -x "$W"/apt/busybox-static_*.deb "$W/busybox"
cp "$W/busybox/bin/busybox" "$I/bin/busybox"
ln -s busybox "$I/bin/sh"
# the modules and what they need, in load order (each .ko's depends= list)
/usr/bin/python3 - "$K/lib/modules/$KV" "$I/modules" virtio_mmio virtio_pci virtio_blk crc32c_generic ext4 <<'PY'
import os, shutil, sys
base, out, want = sys.argv[1], sys.argv[2], sys.argv[3:]
paths = {}
for d, _, fs in os.walk(base):
    for f in fs:
        if f.endswith(".ko"):
            paths[f[:-3].replace("-", "_")] = os.path.join(d, f)
def deps(m):
    data = open(paths[m], "rb").read()
    i = data.find(b"\0depends=")
    v = data[i + 9:data.index(b"\0", i + 1)].decode() if i >= 0 else ""
    return [x.replace("-", "_") for x in v.split(",") if x]
order = []
def visit(m):
    if m in order: return
    for d in deps(m): visit(d)
    order.append(m)
for m in want: visit(m)
with open(os.path.join(out, "order"), "w") as f:
    for i, m in enumerate(order):
        shutil.copy(paths[m], os.path.join(out, "%02d-%s.ko" % (i, m)))
        f.write("%02d-%s.ko\n" % (i, m))
PY
cat >"$I/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do insmod /modules/$m 2>/dev/null; done
for i in $(seq 1 100); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: no /dev/vda"; sh; }
init=$(sed -n 's/.*lifeline.init=\([^ ]*\).*/\1/p' /proc/cmdline)
umount /proc /sys /dev
exec switch_root /newroot "${init:-/sbin/init}"
INIT
chmod 0755 "$I/init"
(cd "$I" && find . | cpio -o -H newc --quiet | gzip -9) >"$W/firstboot.cpio.gz"

say "the filesystem ($SIZE ext4)"
rm -f "$OUT/rootfs.img"
truncate -s "$SIZE" "$OUT/rootfs.img"
mkfs.ext4 -q -L lifeline-root -d "$R" "$OUT/rootfs.img"

say "second stage in qemu-system-aarch64 (TCG; several minutes)"
t1=$(date +%s)
timeout "${IMAGE_STAGE2_TIMEOUT:-2400}" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 2 -m 1024 -nographic \
  -kernel "$K/boot/vmlinuz-$KV" -initrd "$W/firstboot.cpio.gz" \
  -append "console=ttyAMA0 panic=-1 lifeline.init=/stage2.sh" \
  -drive if=none,file="$OUT/rootfs.img",format=raw,id=hd -device virtio-blk-device,drive=hd \
  -no-reboot >"$W/stage2.log" 2>&1 </dev/null || true
grep -q '^stage2: done' "$W/stage2.log" || { tail -n 40 "$W/stage2.log" >&2; die "the second stage did not finish ($W/stage2.log)"; }
t2=$(date +%s)

say "the image's kernel and initramfs"
debugfs -R "dump /boot/vmlinuz-$KV $OUT/vmlinuz" "$OUT/rootfs.img" >/dev/null 2>&1
debugfs -R "dump /boot/initrd.img-$KV $OUT/initrd.img" "$OUT/rootfs.img" >/dev/null 2>&1
[ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] || die "no kernel or initramfs in the image's /boot"
used=$(debugfs -R stats "$OUT/rootfs.img" 2>/dev/null | awk -F: '/^Block count/ { b = $2 } /^Free blocks/ { f = $2 } /^Block size/ { s = $2 } END { printf "%d", (b - f) * s / 1048576 }')
printf 'board=%s\nkernel=%s\nstage1_s=%d\nstage2_s=%d\nused_mb=%s\n' "$BOARD" "$KV" $((t1 - t0)) $((t2 - t1)) "$used" >"$OUT/image.info"
say "done: $OUT/rootfs.img ($used MB used of $SIZE), kernel $KV; host part $((t1 - t0)) s, second stage $((t2 - t1)) s"
