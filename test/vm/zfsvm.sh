#!/usr/bin/env bash
# zfsvm.sh - kopiatomic's real-OpenZFS test rig. Builds a Debian 12 guest from
# Debian packages (zfs-dkms + zfsutils-linux, restic), caches it outside the
# repository keyed by its recipe, boots it under QEMU and runs one script in it,
# exiting with that script's exit code. Adapted from the reference rig in
# shared/tools/zfsvm; the project owns this copy.
#
#   zfsvm.sh build                   build the guest if its recipe changed (ZFSVM_REBUILD=1 forces)
#   zfsvm.sh run SCRIPT [ARGS...]    boot the cached guest and run SCRIPT (inside the share)
#   zfsvm.sh SCRIPT [ARGS...]        build if needed, then run
#   zfsvm.sh path                    print the cache folder of the current recipe
#
# Inside the guest:
#   * the share (ZFSVM_SHARE, default: the repository root) is mounted with 9p at
#     /mnt/host, read-only unless ZFSVM_SHARE_RW=1, and is the working directory;
#   * the host's node binary is /usr/local/bin/node, and promtool where the host
#     has it (from a small read-only disk, cached per binaries; ZFSVM_NODE=none to skip);
#   * ZFSVM_INIT=systemd boots the same image with systemd as PID 1 (the job runs
#     as zfsvm-job.service); the default is a fast shell init;
#   * ZFSVM_DISKS (default "2G") blank scratch disks: /dev/vdb, /dev/vdc, ...;
#   * the zfs module is loaded, udev runs, no pool exists, no network; root fs
#     changes are discarded after the run; ZFSVM=1 is set, and the variables
#     named in ZFSVM_PASS_ENV are passed through;
#   * power cut: a job that writes a command (shell words, run from the share)
#     to /mnt/ctl/power-cut and then resets the guest (sysrq b: no sync, no
#     unmount) is booted again with the same scratch disks, running that
#     command (at most 3 times per run).
#
# Flavours (ZFSVM_FLAVOUR): stable = kernel 6.1 + OpenZFS 2.1.11 (bookworm/contrib);
# backports = kernel 6.12 + OpenZFS 2.3.x (bookworm-backports).
#
# Knobs: ZFSVM_DIR (cache, default /var/cache/kopiatomic-vm), ZFSVM_MIRROR (default:
# the host's own Debian mirror), ZFSVM_MEM (MiB, 3072), ZFSVM_CPUS (host cores),
# ZFSVM_ACCEL (auto|kvm|tcg), ZFSVM_VERBOSE=1, and the time limit, which follows
# progress: ZFSVM_IDLE_TIMEOUT (s, 900) stops a guest whose console has been
# silent that long (the test runners print each test as it finishes, every few
# seconds to a minute or two, also with other guests sharing the cores: 15
# minutes of silence is a guest that is stuck), and ZFSVM_TIMEOUT (s, 7200,
# about 6 times a quiet suite) caps the whole run, every boot counted, for a
# guest that keeps printing without end.
#
# Exit codes: the script's own; 124 timeout; 125 the VM broke before the script
# reported; 2 usage errors. Needs, as root: mmdebstrap qemu-system-x86 e2fsprogs zstd.
# shellcheck disable=SC2016,SC2054  # literal $1 in mmdebstrap hooks; commas in qemu options
set -euo pipefail

ZFSVM_DIR=${ZFSVM_DIR:-/var/cache/kopiatomic-vm}
ZFSVM_FLAVOUR=${ZFSVM_FLAVOUR:-stable}
# The Debian mirror the host already uses (deb822 or one-line sources).
host_mirror() {
  local u
  u=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [ -n "$u" ] || u=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)
  printf '%s' "$u"
}
ZFSVM_MIRROR=${ZFSVM_MIRROR:-$(host_mirror)}
ZFSVM_SECURITY_MIRROR=${ZFSVM_SECURITY_MIRROR:-${ZFSVM_MIRROR%/debian}/debian-security}
ZFSVM_MEM=${ZFSVM_MEM:-3072}
ZFSVM_CPUS=${ZFSVM_CPUS:-$(nproc)}
ZFSVM_TIMEOUT=${ZFSVM_TIMEOUT:-7200}
ZFSVM_IDLE_TIMEOUT=${ZFSVM_IDLE_TIMEOUT:-900}
ZFSVM_ACCEL=${ZFSVM_ACCEL:-auto}
ZFSVM_DISKS=${ZFSVM_DISKS-2G}
ZFSVM_STRIP=${ZFSVM_STRIP:-1}
ZFSVM_VERBOSE=${ZFSVM_VERBOSE:-0}
ZFSVM_SHARE_RW=${ZFSVM_SHARE_RW:-0}
ZFSVM_PASS_ENV=${ZFSVM_PASS_ENV:-}
ZFSVM_NODE=${ZFSVM_NODE:-$(command -v node || echo none)}
ZFSVM_EXTRA_PACKAGES=${ZFSVM_EXTRA_PACKAGES:-}


log() { printf '[zfsvm %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

# step NAME CMD... : run a build step and log how long it took
step() {
  local name=$1 t0=$SECONDS; shift
  log "step $name ..."
  "$@"
  log "step $name took $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- build --

# Mount /proc, /sys and /dev into the chroot for dkms/apt; undone by chroot_umount.
chroot_mount() {
  local d
  for d in proc sys dev; do
    mount --rbind "/$d" "$ROOTFS/$d"
    mount --make-rslave "$ROOTFS/$d"
  done
}
chroot_umount() {
  local d
  for d in dev sys proc; do
    mountpoint -q "$ROOTFS/$d" && umount -R "$ROOTFS/$d"
  done
  return 0
}
in_chroot() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
  ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} "$@"; }

# Delete the build chroot, but never through a /dev, /proc or /sys still bound
# into it (a build killed with SIGKILL leaves them mounted).
remove_rootfs() {
  chroot_umount
  if grep -q " $ROOTFS/" /proc/mounts; then die "something is still mounted under $ROOTFS"; fi
  rm -rf --one-file-system "$ROOTFS"
}

# 1. Debian base system (no kernel yet), with the apt sources the guest needs.
build_base() {
  local sources=(
    "deb $ZFSVM_MIRROR bookworm main contrib"
    "deb $ZFSVM_MIRROR bookworm-updates main contrib"
    "deb $ZFSVM_SECURITY_MIRROR bookworm-security main contrib"
  )
  [ "$ZFSVM_FLAVOUR" = backports ] && sources+=("deb $ZFSVM_MIRROR bookworm-backports main contrib")
  remove_rootfs
  # The essential hook runs before the extra packages are installed: it keeps
  # services from starting in the chroot and makes initramfs-tools build a small
  # initrd (only what is needed to mount an ext4 root on virtio-blk) instead of
  # a 35 MB one with every storage driver; zstd makes it quick to unpack.
  # openssh-server: an SFTP repository on loopback, as a backup host gives
  # one; man-db: the installed package's man pages are read for real.
  mmdebstrap --variant=minbase --components=main,contrib \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --essential-hook='printf "#!/bin/sh\nexit 101\n" > "$1/usr/sbin/policy-rc.d"; chmod 755 "$1/usr/sbin/policy-rc.d"' \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"; printf "MODULES=list\nCOMPRESS=zstd\n" > "$1/etc/initramfs-tools/conf.d/zfsvm.conf"' \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools"; printf "virtio_pci\nvirtio_blk\next4\n" >> "$1/etc/initramfs-tools/modules"' \
    --include=kmod,udev,procps,psmisc,e2fsprogs,util-linux,zstd,initramfs-tools,restic,less,iproute2,systemd,openssh-server,openssh-client,man-db${ZFSVM_EXTRA_PACKAGES:+,$ZFSVM_EXTRA_PACKAGES} \
    bookworm "$ROOTFS" "${sources[@]}"
}

# 2. Kernel + headers for the guest. Backports flavour takes them with -t bookworm-backports.
install_kernel() {
  local t=(); [ "$ZFSVM_FLAVOUR" = backports ] && t=(-t bookworm-backports)
  in_chroot apt-get update -qq
  in_chroot apt-get install -y -q --no-install-recommends "${t[@]}" linux-image-amd64 linux-headers-amd64
}

# 3. zfs-dkms + zfsutils: dkms compiles the module for the guest kernel (not for
#    `uname -r`, which is the host's: dkms says so and builds for the installed
#    kernel headers instead). This is the slow step. KCFLAGS=-g0 (kbuild adds
#    it after the kernel's own flags) builds the modules without debug info,
#    which nothing here reads: the compiler then has much less to write. The
#    6.12 headers carry vmlinux, and with it kbuild gives every module (each
#    of configure's test modules too) BTF type information made by pahole
#    from that debug info; BTF serves BPF tools the guest never runs, and
#    without vmlinux kbuild skips it, so vmlinux is set aside meanwhile.
install_zfs() {
  local t=(); [ "$ZFSVM_FLAVOUR" = backports ] && t=(-t bookworm-backports)
  local v
  for v in "$ROOTFS"/usr/src/linux-headers-*/vmlinux; do [ -e "$v" ] && mv "$v" "$v.zfsvm-aside"; done
  in_chroot env KCFLAGS=-g0 apt-get install -y -q --no-install-recommends "${t[@]}" zfs-dkms zfsutils-linux
  for v in "$ROOTFS"/usr/src/linux-headers-*/vmlinux.zfsvm-aside; do [ -e "$v" ] && mv "$v" "${v%.zfsvm-aside}"; done
  local kver; kver=$(guest_kver)
  in_chroot modinfo -k "$kver" -F version zfs >/dev/null \
    || die "dkms did not produce zfs.ko for $kver (see the dkms output above)"
  # How long dkms's own make took, and the module's size (no .debug_info).
  find "$ROOTFS/var/lib/dkms/zfs" -name make.log -exec tail -n 3 {} + 2>/dev/null | sed 's/^/[dkms] /' >&2 || true
  du -ch "$ROOTFS/lib/modules/$kver/updates/dkms/" 2>/dev/null | tail -n1 | sed 's/^/[dkms] modules: /' >&2 || true
}

guest_kver() { ls "$ROOTFS/lib/modules" | sort -V | tail -n1; }

# 4. Optional: drop the compiler, headers and dkms, and kernel modules for
#    hardware a QEMU guest never has, but keep the built zfs modules. Purging
#    zfs-dkms deletes its .ko files, so they are saved and put back.
strip_toolchain() {
  local kver; kver=$(guest_kver)
  local keep=$ROOTFS/root/zfs-ko
  rm -rf "$keep"; mkdir -p "$keep"
  cp -a "$ROOTFS/lib/modules/$kver/updates/dkms/." "$keep/"
  in_chroot apt-get purge -y -q zfs-dkms dkms 'linux-headers-*' 'linux-kbuild-*' \
    gcc gcc-12 cpp cpp-12 libgcc-12-dev binutils make patch dpkg-dev libc6-dev linux-libc-dev
  # Without this, Recommends keep half of the toolchain installed.
  in_chroot apt-get autoremove --purge -y -q -o APT::AutoRemove::RecommendsImportant=false
  mkdir -p "$ROOTFS/lib/modules/$kver/updates/zfs"
  cp -a "$keep/." "$ROOTFS/lib/modules/$kver/updates/zfs/"   # *.ko (6.1) or *.ko.xz (6.12)
  rm -rf "$keep"
  local m=$ROOTFS/lib/modules/$kver/kernel
  rm -rf "$m"/sound "$m"/net/{wireless,mac80211,bluetooth} \
    "$m"/drivers/{gpu,media,infiniband,usb,iio,staging,bluetooth,isdn,comedi,mtd,mmc,hwmon,video,target,platform,net/wireless,net/ethernet}
  in_chroot depmod -a "$kver"
  in_chroot apt-get clean
  rm -rf "$ROOTFS"/var/lib/apt/lists/*
  in_chroot modinfo -k "$kver" -F version zfs >/dev/null || die "zfs.ko lost while stripping"
}

# 5. The guest's PID 1: a shell script instead of systemd (boots in seconds under
#    emulation). It mounts the basics, starts udev (zpool create on a whole disk
#    waits for udev), loads zfs, mounts the 9p shares, runs /mnt/ctl/job, writes
#    its exit code to /mnt/ctl/exit-code and powers off.
install_init() {
  cat > "$ROOTFS/usr/local/sbin/zfsvm-init" <<'INIT'
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
up() { cut -d' ' -f1 /proc/uptime; }
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys  || mount -t sysfs sysfs /sys
mountpoint -q /dev  || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -o remount,rw /
hostname zfsvm
ip link set lo up 2>/dev/null
echo "zfsvm: init up after $(up)s"
/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
modprobe zfs || echo "zfsvm: modprobe zfs FAILED"
udevadm trigger --action=add --subsystem-match=block --subsystem-match=misc
udevadm settle -t 30
mkdir -p /mnt/ctl /mnt/host
zfsvm-mounts
echo "zfsvm: ready after $(up)s ($(uname -r), zfs $(cat /sys/module/zfs/version 2>/dev/null))"
rc=125
if [ -f /mnt/ctl/job ]; then
  bash /mnt/ctl/job </dev/null
  rc=$?
fi
echo "$rc" > /mnt/ctl/exit-code
echo "zfsvm: job exited with $rc after $(up)s"
sync
echo o > /proc/sysrq-trigger
# Spin on shell builtins until the power goes: external commands may fail now.
while :; do :; done
INIT
  chmod 755 "$ROOTFS/usr/local/sbin/zfsvm-init"

  # The 9p shares and the host's tools disk (node, promtool): shared by both inits.
  cat > "$ROOTFS/usr/local/sbin/zfsvm-mounts" <<'MOUNTS'
#!/bin/sh
mkdir -p /mnt/ctl /mnt/host
mountpoint -q /mnt/ctl || mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 ctl /mnt/ctl
mountpoint -q /mnt/host || mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=loose host /mnt/host 2>/dev/null \
  || mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 host /mnt/host 2>/dev/null || true
if [ -e /dev/disk/by-id/virtio-zfsvm-node ] && ! mountpoint -q /opt/node; then
  mkdir -p /opt/node && mount -o ro /dev/disk/by-id/virtio-zfsvm-node /opt/node
  for t in /opt/node/*; do [ -f "$t" ] && ln -sf "$t" "/usr/local/bin/${t##*/}"; done
fi
exit 0
MOUNTS
  chmod 755 "$ROOTFS/usr/local/sbin/zfsvm-mounts"

  # The systemd variant (kernel argument init=/lib/systemd/systemd, ZFSVM_INIT=systemd):
  # the same image boots a real systemd as PID 1, and the job runs as a unit.
  cat > "$ROOTFS/usr/local/sbin/zfsvm-systemd-job" <<'SJOB'
#!/bin/sh
export HOME=/root LANG=C.UTF-8 TERM=dumb
up() { cut -d' ' -f1 /proc/uptime; }
modprobe zfs || echo "zfsvm: modprobe zfs FAILED"
udevadm settle -t 30
zfsvm-mounts
echo "zfsvm: init up after $(up)s (systemd)"
echo "zfsvm: ready after $(up)s ($(uname -r), zfs $(cat /sys/module/zfs/version 2>/dev/null), systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'))"
rc=125
if [ -f /mnt/ctl/job ]; then
  bash /mnt/ctl/job </dev/null
  rc=$?
fi
echo "$rc" > /mnt/ctl/exit-code
echo "zfsvm: job exited with $rc after $(up)s"
sync
systemctl --no-block poweroff
SJOB
  chmod 755 "$ROOTFS/usr/local/sbin/zfsvm-systemd-job"
  cat > "$ROOTFS/etc/systemd/system/zfsvm-job.service" <<'UNIT'
[Unit]
Description=zfsvm test job
After=systemd-udevd.service local-fs.target zfs-mount.service
Wants=systemd-udevd.service
ConditionKernelCommandLine=zfsvm.systemd=1
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/zfsvm-systemd-job
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
UNIT
  mkdir -p "$ROOTFS/etc/systemd/system/multi-user.target.wants"
  ln -sf /etc/systemd/system/zfsvm-job.service "$ROOTFS/etc/systemd/system/multi-user.target.wants/zfsvm-job.service"
  # No login prompts on the console the job writes to.
  ln -sf /dev/null "$ROOTFS/etc/systemd/system/serial-getty@.service"
  ln -sf /dev/null "$ROOTFS/etc/systemd/system/getty@.service"
  echo zfsvm > "$ROOTFS/etc/hostname"
}

# 6. Pack the tree into an ext4 image (no loop device or mount needed) and copy
#    kernel + initrd next to it, where qemu boots them directly.
make_image() {
  local kver; kver=$(guest_kver)
  rm -rf "$GUEST.tmp"; mkdir -p "$GUEST.tmp"
  cp "$ROOTFS/boot/vmlinuz-$kver" "$GUEST.tmp/vmlinuz"
  cp "$ROOTFS/boot/initrd.img-$kver" "$GUEST.tmp/initrd.img"
  truncate -s 4G "$GUEST.tmp/root.img"
  mkfs.ext4 -q -F -L zfsvm-root -d "$ROOTFS" "$GUEST.tmp/root.img"
  {
    echo "FLAVOUR=$ZFSVM_FLAVOUR"
    echo "KVER=$kver"
    echo "ZFS_VERSION=$(in_chroot modinfo -k "$kver" -F version zfs)"
    echo "ZFSUTILS=$(in_chroot dpkg-query -W -f '${Version}' zfsutils-linux)"
    echo "RESTIC=$(in_chroot dpkg-query -W -f '${Version}' restic)"
    echo "BUILT=$(date -u +%FT%TZ)"
    echo "BUILD_ID=$(build_id)"
  } > "$GUEST.tmp/guest.env"
  rm -rf "$GUEST"; mv "$GUEST.tmp" "$GUEST"
}

# Identifies what a cached guest was built from: the build section of this
# script (so editing it, the guest init included, forces a rebuild), the flavour
# and the mirror.
build_id() {
  { sed -n '/^# -* build --$/,/^# -* run --$/p' "$0"; echo "$ZFSVM_FLAVOUR $ZFSVM_MIRROR $ZFSVM_EXTRA_PACKAGES"; } \
    | sha256sum | cut -c1-16
}
# The cached guest (vmlinuz, initrd.img, root.img, guest.env) lives in a folder
# named by its recipe, so a changed recipe never boots a stale guest.
GUEST=$ZFSVM_DIR/$ZFSVM_FLAVOUR-$(build_id)
ROOTFS=$ZFSVM_DIR/$ZFSVM_FLAVOUR.rootfs  # build-time chroot, deleted after the build

need_build() {
  [ "${ZFSVM_REBUILD:-0}" = 1 ] || ! grep -qx "BUILD_ID=$(build_id)" "$GUEST/guest.env" 2>/dev/null
}

build() {
  command -v mmdebstrap >/dev/null && command -v qemu-system-x86_64 >/dev/null \
    && command -v mkfs.ext4 >/dev/null || die "needs: apt-get install mmdebstrap qemu-system-x86 e2fsprogs zstd"
  [ "$(id -u)" = 0 ] || die "build must run as root (chroot, mounts)"
  local t0=$SECONDS
  mkdir -p "$ZFSVM_DIR"
  trap chroot_umount EXIT
  step debootstrap   build_base
  chroot_mount
  step kernel        install_kernel
  step zfs-dkms      install_zfs
  if [ "$ZFSVM_STRIP" = 1 ]; then step strip strip_toolchain; fi
  chroot_umount
  trap - EXIT
  install_init
  log "rootfs size: $(du -sh "$ROOTFS" | cut -f1)"
  step image         make_image
  [ "${ZFSVM_KEEP_ROOTFS:-0}" = 1 ] || remove_rootfs
  log "guest built in $((SECONDS - t0))s: $GUEST"; sed 's/^/[zfsvm]   /' "$GUEST/guest.env" >&2
}

# ------------------------------------------------------------------ run --

pick_accel() {
  case $ZFSVM_ACCEL in
    kvm|tcg) echo "$ZFSVM_ACCEL"; return ;;
  esac
  # KVM only if it is real hardware virtualisation. Some sandboxes expose a
  # /dev/kvm backed by PVM (module kvm_pvm), which only runs specially built
  # guest kernels: a stock Debian kernel hangs there right after decompression.
  if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && [ ! -d /sys/module/kvm_pvm ]; then
    echo kvm
  else
    echo tcg
  fi
}

# A small ext4 image holding the host's node binary and, when the host has it,
# promtool (for checking metrics files in the guest); made once per binaries.
node_disk() {
  local bin key img d tools=()
  bin=$(readlink -f "$ZFSVM_NODE")
  [ -f "$bin" ] || die "ZFSVM_NODE=$ZFSVM_NODE is not a file"
  tools=("$bin")
  if command -v promtool >/dev/null; then tools+=("$(readlink -f "$(command -v promtool)")"); fi
  key=$(cat "${tools[@]}" | sha256sum | cut -c1-16)
  img=$ZFSVM_DIR/node-$key.img
  if [ ! -f "$img" ]; then
    d=$(mktemp -d)
    cp "$bin" "$d/node"
    [ ${#tools[@]} -gt 1 ] && cp "${tools[1]}" "$d/promtool"
    truncate -s "$(( $(du -cb "${tools[@]}" | tail -n1 | cut -f1) / 1048576 + 32 ))M" "$img.tmp.$$"
    mkfs.ext4 -q -F -L zfsvm-node -d "$d" "$img.tmp.$$"
    rm -rf "$d"; mv "$img.tmp.$$" "$img"
  fi
  echo "$img"
}

run() {
  [ $# -ge 1 ] || die "usage: $0 run TEST_SCRIPT [ARGS...]"
  [ -f "$GUEST/guest.env" ] || die "no guest in $GUEST; run '$0 build' first"
  local n
  for n in ZFSVM_TIMEOUT ZFSVM_IDLE_TIMEOUT; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a number of seconds, not '${!n}'"
  done
  local script; script=$(readlink -f "$1"); shift
  [ -f "$script" ] || die "no such test script: $script"
  local share; share=$(readlink -f "${ZFSVM_SHARE:-$(dirname "$0")/../..}")
  case $script in "$share"/*) ;; *) die "$script is not inside the share $share" ;; esac
  local rel=${script#"$share"/}

  local run_dir; run_dir=$(mktemp -d "${TMPDIR:-/tmp}/zfsvm-run.XXXXXX")
  # shellcheck disable=SC2064
  trap "stop_qemu; rm -rf '$run_dir'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir "$run_dir/ctl"
  local quoted_args=''; [ $# -gt 0 ] && quoted_args=$(printf ' %q' "$@")
  write_job "$(printf 'if [ -x %q ]; then exec %q%s; else exec bash %q%s; fi' \
    "./$rel" "./$rel" "$quoted_args" "./$rel" "$quoted_args")"

  # ZFSVM_INIT=systemd boots the same image with a real systemd as PID 1.
  local init_args="init=/usr/local/sbin/zfsvm-init"
  [ "${ZFSVM_INIT:-shell}" = systemd ] && init_args="init=/lib/systemd/systemd zfsvm.systemd=1 systemd.show_status=0"
  local accel; accel=$(pick_accel)
  local cpu=max; [ "$accel" = kvm ] && cpu=host
  local ro=; [ "$ZFSVM_SHARE_RW" = 1 ] || ro=,readonly=on
  local args=(
    -accel "$accel" -cpu "$cpu" -smp "$ZFSVM_CPUS" -m "$ZFSVM_MEM"
    -nodefaults -no-user-config -display none -no-reboot
    -serial stdio -monitor none
    -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.img"
    -append "console=ttyS0 root=/dev/vda rw $init_args quiet loglevel=3 panic=-1"
    # snapshot=on: the guest writes to a temporary overlay, root.img stays pristine.
    -drive "file=$GUEST/root.img,format=raw,if=none,id=root,snapshot=on"
    -device virtio-blk-pci,drive=root
    -virtfs "local,path=$run_dir/ctl,mount_tag=ctl,security_model=none"
    -virtfs "local,path=$share,mount_tag=host,security_model=none$ro"
  )
  local i=0 size
  for size in $ZFSVM_DISKS; do
    i=$((i + 1))
    truncate -s "$size" "$run_dir/disk$i.img"
    args+=(-drive "file=$run_dir/disk$i.img,format=raw,if=none,id=disk$i,cache=unsafe"
           -device "virtio-blk-pci,drive=disk$i,serial=zfsvm-disk$i")
  done
  if [ "$ZFSVM_NODE" != none ]; then
    local node_img; node_img=$(node_disk)
    args+=(-drive "file=$node_img,format=raw,if=none,id=node,readonly=on"
           -device virtio-blk-pci,drive=node,serial=zfsvm-node)
  fi

  log "booting $(. "$GUEST/guest.env"; echo "kernel $KVER, zfs $ZFS_VERSION") with $accel; job: ./$rel $*"
  local t0=$SECONDS boots=0 why='' early_retries=0
  while :; do
    boots=$((boots + 1))
    boot_guest || why=$REPLY
    [ -z "$why" ] || break
    # A kernel that panicked before our init came up (TCG sometimes trips
    # over the kernel patching its own code while booting) ran nothing of
    # the job, so booting again is safe; twice at most.
    if [ ! -s "$run_dir/ctl/exit-code" ] && [ ! -s "$run_dir/ctl/power-cut" ] \
       && ! grep -q 'zfsvm: init up' "$run_dir/console.log.$boots" \
       && [ "$early_retries" -lt 2 ]; then
      early_retries=$((early_retries + 1))
      log "the guest died before its init came up (boot $boots); booting again:"
      grep -m3 -E 'Kernel panic|Oops|BUG' "$run_dir/console.log.$boots" | sed 's/\r$//' >&2
      continue
    fi
    # A power cut the job asked for: boot again with the same scratch disks,
    # running the command it named (relative to the share).
    [ -s "$run_dir/ctl/power-cut" ] && [ ! -e "$run_dir/ctl/exit-code" ] || break
    [ "$boots" -lt 4 ] || { log "the guest asked for a 4th boot; refused"; break; }
    local next; next=$(cat "$run_dir/ctl/power-cut"); rm -f "$run_dir/ctl/power-cut"
    log "the guest cut its own power (boot $boots); booting again with the same disks: $next"
    write_job "$next"
  done

  if [ -n "$why" ]; then
    log "timed out: $why"; exit 124
  fi
  if [ ! -s "$run_dir/ctl/exit-code" ]; then
    log "the guest reported no exit code; last console lines:"
    tail -n 40 "$run_dir/console.log" | sed 's/\r$//' >&2
    exit 125
  fi
  exit "$(cat "$run_dir/ctl/exit-code")"
}

# The job the guest's init runs with bash, from the share directory: the
# script (or, after a power cut, the command the guest asked for) with the
# variables of ZFSVM_PASS_ENV.
write_job() { # COMMAND (shell words, relative to the share)
  {
    echo "export ZFSVM=1"
    local v
    for v in $ZFSVM_PASS_ENV; do [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"; done
    echo "cd /mnt/host || exit 125"
    printf '%s\n' "$1"
  } > "$run_dir/ctl/job"
}

# Boots the guest once (qemu exits at its power-off or, with -no-reboot, at a
# reset). The time limit follows progress: the guest is stopped when its
# console has been silent for ZFSVM_IDLE_TIMEOUT seconds (the test runners
# print each test as it finishes), or when the whole run, every boot counted,
# has taken ZFSVM_TIMEOUT. Returns 1 with the reason in REPLY when it stopped
# the guest.
boot_guest() {
  local log=$run_dir/console.log.$boots
  : > "$log"
  qemu-system-x86_64 "${args[@]}" </dev/null >"$log" 2>&1 &
  qpid=$!
  # Serial console -> stdout. Without ZFSVM_VERBOSE only lines from our init on
  # are shown (no firmware noise); the whole log is kept for post-mortems.
  tail -n +1 -s 1 --pid="$qpid" -f "$log" \
    | if [ "$ZFSVM_VERBOSE" = 1 ]; then sed -u 's/\r$//'; else sed -u -n 's/\r$//; /zfsvm: init up/,/zfsvm: job exited/p'; fi &
  local tpid=$! size=0 now last=$SECONDS b0=$SECONDS qrc=0
  REPLY=''
  while kill -0 "$qpid" 2>/dev/null; do
    sleep 1
    now=$(stat -c %s "$log")
    [ "$now" = "$size" ] || { size=$now; last=$SECONDS; }
    if [ $((SECONDS - last)) -ge "$ZFSVM_IDLE_TIMEOUT" ]; then
      REPLY="no output from the guest for ${ZFSVM_IDLE_TIMEOUT}s (ZFSVM_IDLE_TIMEOUT)"
    elif [ $((SECONDS - t0)) -ge "$ZFSVM_TIMEOUT" ]; then
      REPLY="the run took ${ZFSVM_TIMEOUT}s in all (ZFSVM_TIMEOUT)"
    fi
    [ -z "$REPLY" ] || { stop_qemu; break; }
  done
  wait "$qpid"; qrc=$?
  qpid=''
  wait "$tpid"
  cat "$log" >> "$run_dir/console.log"
  log "VM ran for $((SECONDS - b0))s (qemu exit $qrc)"
  [ -z "$REPLY" ]
}

stop_qemu() {
  [ -n "${qpid:-}" ] || return 0
  kill -TERM "$qpid" 2>/dev/null
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || return 0; sleep 1; done
  kill -KILL "$qpid" 2>/dev/null
  return 0
}

# ----------------------------------------------------------------- main --

# One build per flavour at a time: a second caller waits, then finds it built.
build_locked() {
  mkdir -p "$ZFSVM_DIR"
  exec 9>"$ZFSVM_DIR/.build-$ZFSVM_FLAVOUR.lock"
  flock 9
  if need_build; then build
  else log "guest already built and up to date: $GUEST (ZFSVM_REBUILD=1 to rebuild)"; fi
  exec 9>&-
}

case ${1:-} in
  build) build_locked ;;
  run) shift; run "$@" ;;
  path) echo "$GUEST" ;;
  ''|-h|--help) sed -n '2,/^set -euo/{/^# shellcheck/d; /^#/s/^# \{0,1\}//p}' "$0"; exit 2 ;;
  *) build_locked; run "$@" ;;
esac
