#!/usr/bin/env bash
# Runs one command in a throw-away QEMU VM on Debian bookworm's own kernel (build-image.sh).
#   bash tools/vm/run.sh CMD [ARGS...]
#   bash tools/vm/run.sh -c 'bash snippet'
# The guest's root is this machine's / (read-only, writes go to a tmpfs and vanish), so host-built
# binaries run unchanged; the working directory is the caller's $PWD; the user is root; there is
# no network card, only loopback and what the command creates. The command's stdout and stderr
# stream to ours, and we exit with its status; 124 means the timeout hit, 125 that the VM or this
# harness failed (the kernel console is printed then).
# Env:
#   RIASC_VM_CPUS=1          vCPUs (1 keeps netem timing tightest; docs/testing-vm.md)
#   RIASC_VM_MEMORY=1024     guest RAM in MiB; the tmpfs taking all writes lives in it
#   RIASC_VM_TIMEOUT=900     seconds before the VM is killed (exit 124)
#   RIASC_VM_RW="DIR ..."    host directories mounted read-write at the same path (test outputs)
#   RIASC_VM_PASS_ENV="A B"  variables copied into the guest, whose environment is otherwise only
#                            PATH, HOME=/root, LANG=C.UTF-8, TERM=dumb and RIASC_VM=1
#   RIASC_VM_VERBOSE=1       stream the kernel console, and print timings at the end
#   RIASC_VM_CACHE=DIR       where build-image.sh put the kernel (default /var/cache/riasc-vm)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${RIASC_VM_CACHE:-/var/cache/riasc-vm}
cpus=${RIASC_VM_CPUS:-1}
memory=${RIASC_VM_MEMORY:-1024}
timeout=${RIASC_VM_TIMEOUT:-900}
verbose=${RIASC_VM_VERBOSE:-0}

harness_error() { echo "run.sh: $*" >&2; exit 125; }

if [ $# -eq 0 ] || { [ "$1" = -c ] && [ $# -ne 2 ]; }; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  harness_error "nothing to run"
fi
if ! command -v qemu-system-x86_64 >/dev/null || [ ! -f "$cache/image.env" ]; then
  harness_error "no VM image in $cache: run bash tools/vm/build-image.sh first"
fi
# shellcheck source=/dev/null
. "$cache/image.env"
# The initramfs is named after a hash of init.sh and build-image.sh (see build-image.sh), so an
# edited init.sh simply finds no initramfs of its own yet.
initramfs=$cache/initramfs-$RIASC_VM_KERNEL_VERSION-$(cat "$here/init.sh" "$here/build-image.sh" |
  sha256sum | cut -c1-12).cpio.gz
if [ ! -f "$initramfs" ]; then
  bash "$here/build-image.sh" --initramfs || harness_error "rebuilding the initramfs failed"
fi

job=$(mktemp -d "${TMPDIR:-/tmp}/riasc-vm.XXXXXX")
readers=()
qemu_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  [ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
  [ ${#readers[@]} -eq 0 ] || kill "${readers[@]}" 2>/dev/null || true
  rm -rf "$job"
}
trap cleanup EXIT
# ctest's own timeout (SIGTERM) or ^C must not leave a VM behind.
trap 'exit 125' INT TERM

# The job, as init.sh reads it through the "job" share.
if [ "$1" = -c ]; then
  printf '%s\n' "$2" >"$job/cmd"
else
  printf 'exec' >"$job/cmd"
  printf ' %q' "$@" >>"$job/cmd"
  echo >>"$job/cmd"
fi
printf '%s\n' "$PWD" >"$job/cwd"
: >"$job/env"
for name in ${RIASC_VM_PASS_ENV:-}; do
  [ -z "${!name+set}" ] || printf 'export %s=%q\n' "$name" "${!name}" >>"$job/env"
done
shares=()
: >"$job/mounts"
index=0
for dir in ${RIASC_VM_RW:-}; do
  [ -d "$dir" ] || harness_error "RIASC_VM_RW: $dir is not a directory"
  dir=$(cd "$dir" && pwd -P)
  shares+=(-fsdev "local,id=rw$index,path=$dir,security_model=passthrough,multidevs=remap"
    -device "virtio-9p-pci,fsdev=rw$index,mount_tag=rw$index")
  echo "rw$index $dir" >>"$job/mounts"
  index=$((index + 1))
done

# qemu writes the two virtio-serial ports and the serial console into FIFOs; background readers
# pass them on as they arrive. A reader ends when qemu closes its FIFO.
mkfifo "$job/stdout" "$job/stderr" "$job/console"
cat "$job/stdout" &
readers+=($!)
cat "$job/stderr" >&2 &
readers+=($!)
# The console log gets host timestamps: "running the command" marks the end of the boot.
while IFS= read -r line; do
  line=${line%$'\r'}
  printf '%s %s\n' "$EPOCHREALTIME" "$line" >>"$job/console.log"
  [ "$verbose" != 1 ] || printf '[vm] %s\n' "$line" >&2
done <"$job/console" &
readers+=($!)

start=$EPOCHREALTIME
# -nodefaults and no -netdev: the guest has no network card, so tests cannot reach the host's
# network. KVM does not work on this project's machines (docs/testing-vm.md): TCG, one thread per
# vCPU. -cpu max gives the guest the host-built binaries' instruction set extensions.
timeout --kill-after=10 "$timeout" qemu-system-x86_64 \
  -nodefaults -no-user-config -display none -no-reboot \
  -machine pc -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$memory" \
  -kernel "$RIASC_VM_KERNEL" -initrd "$initramfs" \
  -append "console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off" \
  -serial "file:$job/console" \
  -fsdev "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap" \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev "local,id=modules,path=$RIASC_VM_MODULES,security_model=passthrough,readonly=on" \
  -device virtio-9p-pci,fsdev=modules,mount_tag=modules \
  -fsdev "local,id=job,path=$job,security_model=passthrough" \
  -device virtio-9p-pci,fsdev=job,mount_tag=job \
  "${shares[@]}" \
  -device virtio-serial-pci \
  -chardev "file,id=stdout,path=$job/stdout" -device virtserialport,chardev=stdout,name=riasc.stdout \
  -chardev "file,id=stderr,path=$job/stderr" -device virtserialport,chardev=stderr,name=riasc.stderr \
  -device virtio-rng-pci \
  </dev/null >"$job/qemu.log" 2>&1 &
qemu_pid=$!
qemu_status=0
wait "$qemu_pid" || qemu_status=$?
qemu_pid=
end=$EPOCHREALTIME

# A reader whose FIFO qemu never opened (qemu failed early) blocks in open(); opening the FIFO
# read-write ourselves lets that open return, and closing it gives the reader its end of file.
for fifo in stdout stderr console; do
  exec {unblock}<>"$job/$fifo"
  exec {unblock}>&-
done
wait "${readers[@]}" 2>/dev/null || true
readers=()

if [ "$verbose" = 1 ]; then
  awk -v start="$start" -v end="$end" '
    / riasc-vm: running the command/ { boot = $1 - start }
    / riasc-vm: command exited/ { done = $1 - start }
    END {
      printf "run.sh: boot (qemu start to command) %.2f s, command %.2f s, total %.2f s\n",
        boot, (done > 0 ? done - boot : -1), end - start
    }' "$job/console.log" >&2
fi

if [ -f "$job/status" ]; then
  exit "$(cat "$job/status")"
fi
if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
  echo "run.sh: timeout: the VM was still running after ${timeout} s (RIASC_VM_TIMEOUT)" >&2
  status=124
else
  echo "run.sh: the VM stopped without a result (qemu exit status $qemu_status)" >&2
  status=125
fi
if [ -s "$job/qemu.log" ]; then
  echo "--- qemu" >&2
  cat "$job/qemu.log" >&2
fi
echo "--- kernel console" >&2
cut -d' ' -f2- "$job/console.log" >&2 2>/dev/null || true
exit "$status"
