#!/bin/busybox sh
# The guest's /init (PID 1), packed into the initramfs by build-image.sh and started by run.sh.
# It turns the host's / (9p, read-only) plus a tmpfs overlay into the guest's root, runs the job
# run.sh left in the "job" share there, writes its exit status back and powers off.
# busybox sh, not bash: this runs before the host's root (and its bash) is mounted.
# No `set -e`: PID 1 must never exit (the kernel would panic), so failures go through fail().
set -u
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

say() { echo "riasc-vm: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# run.sh reports "VM/harness failure" (125) when no status file appears; the reason is on the
# console, which run.sh prints then.
fail() {
  say "FATAL: $*"
  poweroff -f
  sleep 60
}
say "init started at uptime $(uptime_s) s"

while read -r module; do
  insmod "/modules/$module" || say "insmod $module failed"
done </modules/order
version=$(cat /kernel-version)

# msize: 9p's default 8 KiB messages make every read of a binary hundreds of round trips.
# cache=loose on the read-only shares: nothing changes them while the VM runs.
p9=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$p9,ro,cache=loose" hostroot /host || fail "cannot mount the host's / (9p)"
mount -t tmpfs -o mode=755 tmpfs /overlay || fail "cannot mount the overlay's tmpfs"
mkdir -p /overlay/upper /overlay/work
mount -t overlay -o lowerdir=/host,upperdir=/overlay/upper,workdir=/overlay/work overlay /newroot ||
  fail "cannot mount the overlay root"
mount -t 9p -o "$p9,rw,cache=none" job /job || fail "cannot mount the job directory (9p)"

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $r/dev/pts
# udev would create these; bash's <(...) and /dev/stdin users need them.
ln -sf /proc/self/fd $r/dev/fd
ln -sf /proc/self/fd/0 $r/dev/stdin
ln -sf /proc/self/fd/1 $r/dev/stdout
ln -sf /proc/self/fd/2 $r/dev/stderr
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup || say "no cgroup2"
mount -t tmpfs -o mode=755 tmpfs $r/run
cwd=$(cat /job/cwd)
# A fresh /tmp instead of the host's (read through 9p, with its sockets and leftovers), unless
# the command runs inside the host's /tmp and would lose its working directory.
case $cwd in
  /tmp | /tmp/*) say "working directory is under /tmp: keeping the host's /tmp (writes to it vanish)" ;;
  *) mount -t tmpfs -o mode=1777 tmpfs $r/tmp ;;
esac
mkdir -p "$r/lib/modules/$version"
mount -t 9p -o "$p9,ro,cache=loose" modules "$r/lib/modules/$version" ||
  fail "cannot mount the kernel modules (9p)"
# RIASC_VM_RW directories, at their host paths, after /tmp so that they may lie under it.
while read -r tag path; do
  if ! mkdir -p "$r$path" || ! mount -t 9p -o "$p9,rw,cache=none" "$tag" "$r$path"; then
    fail "cannot mount $path read-write (9p tag $tag)"
  fi
done </job/mounts

# The kernel runs /proc/sys/kernel/modprobe for module auto-loading (tc qdisc add ... netem,
# ip link add ... type wireguard) in PID 1's root, which is this initramfs: hand over to the
# real modprobe inside the new root, where /lib/modules is.
printf '#!/bin/sh\nexec chroot /newroot /sbin/modprobe "$@"\n' >/modprobe
chmod 755 /modprobe
echo /modprobe >/proc/sys/kernel/modprobe
# What Debian's boot makes with `kmod static-nodes`: device nodes of modules that load on their
# first open, here /dev/net/tun (the userspace emulation engine's TAPs), which devtmpfs shows only
# once the module is in.
mkdir -p $r/dev/net
[ -e $r/dev/net/tun ] || mknod $r/dev/net/tun c 10 200

hostname riasc-vm
ip link set lo up

# The command's stdout and stderr go to their own virtio-serial ports, which run.sh streams to
# its own stdout and stderr; the console (ttyS0) carries only the kernel's and init's messages.
out=/dev/console
err=/dev/console
for port in /sys/class/virtio-ports/*; do
  case $(cat "$port/name" 2>/dev/null) in
    riasc.stdout) out=/dev/${port##*/} ;;
    riasc.stderr) err=/dev/${port##*/} ;;
  esac
done

# The job's files, where the command's root can see them (the job share is mounted only here).
mkdir -p $r/run/riasc-vm
cp /job/cmd /job/env $r/run/riasc-vm/

say "running the command at uptime $(uptime_s) s"
# A clean environment, as under ctest on CI: only what run.sh was asked to pass (job/env).
# shellcheck disable=SC2016 # $1 is for the inner bash
chroot $r /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 TERM=dumb RIASC_VM=1 \
  /bin/bash -c 'cd -- "$1" || exit 125; . /run/riasc-vm/env; exec /bin/bash /run/riasc-vm/cmd' \
  riasc-vm "$cwd" </dev/null >"$out" 2>"$err"
status=$?
say "command exited with status $status at uptime $(uptime_s) s"

# Written last, then renamed: run.sh takes a status file as proof that the command finished.
echo "$status" >/job/status.part && mv /job/status.part /job/status
sync
poweroff -f
sleep 60
