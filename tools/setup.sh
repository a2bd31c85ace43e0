#!/usr/bin/env bash
# Installs everything RIasC needs from Debian 12 (bookworm) packages.
#   bash tools/setup.sh          what building and running riasc needs
#   bash tools/setup.sh --test   also what the tests, sanitizers, fuzzing and format check need
# Idempotent: prints nothing and touches nothing when every package is already installed.
# Run as root (or with sudo available). docs/dependencies.md says why each package is here.
set -euo pipefail

build_packages=(
  g++ make cmake ninja-build pkg-config ccache
  libyaml-dev nlohmann-json3-dev libfmt-dev libcli11-dev libre2-dev libsqlite3-dev libboost-dev libssl-dev libnghttp2-dev
  libmnl-dev libnftables-dev iproute2
)
test_packages=(
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev clang-format-14
  python3-kubernetes curl nftables iputils-ping procps iperf3
)

packages=("${build_packages[@]}")
case "${1:-}" in
  --test)
    packages+=("${test_packages[@]}")
    # The integration tests drive a real kubectl. Debian's is 1.20 (kubernetes-client); a machine
    # that already has one (such as the gcloud dispatcher) keeps it.
    command -v kubectl >/dev/null || packages+=(kubernetes-client)
    ;;
  "") ;;
  *) echo "usage: bash tools/setup.sh [--test]" >&2; exit 2 ;;
esac

# Debian's kubectl 1.20 (the oldest client we serve) is unpacked beside the machine's own kubectl
# for the integration tests, without replacing it.
kubectl_120=/opt/riasc/kubectl-1.20
fetch_kubectl_120() {
  local download
  download=$(mktemp -d)
  (cd "$download" && { apt-get download -qq kubernetes-client 2>/dev/null ||
    { apt-get update -qq && apt-get download -qq kubernetes-client; }; } &&
    mkdir -p "$kubectl_120" && dpkg -x kubernetes-client_*.deb "$kubectl_120")
  rm -rf "$download"
}

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
want_kubectl_120=false
[ "${1:-}" = "--test" ] && [ ! -x "$kubectl_120/usr/bin/kubectl" ] && want_kubectl_120=true
[ ${#missing[@]} -eq 0 ] && [ "$want_kubectl_120" = false ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    exec sudo bash "$0" "$@"
  fi
  echo "tools/setup.sh: these packages are missing and installing them needs root: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "tools/setup.sh: installing ${#missing[@]} Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$want_kubectl_120" = true ]; then
  echo "tools/setup.sh: unpacking Debian's kubectl 1.20 into $kubectl_120"
  fetch_kubectl_120
fi
echo "tools/setup.sh: done"
