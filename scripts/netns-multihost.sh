#!/usr/bin/env bash
# Multi-host on one machine (issue 14): "hosts" as network namespaces INSIDE this script's own
# network, mount and PID namespaces, joined by veth pairs to a bridge on the private test subnet
# 10.213.0.0/24. Each host runs a nats-server (routes to the others), a hub (`isobroker hub
# --backbone` on its host's server), and test/multihost/host.mjs: cluster nodes (manager, proxies,
# workers, loggers), an in-process hub endpoint, a client of the hub. A partition takes one host's
# link down (the switch side of its veth pair), a heal brings it up.
#
# Usage (root):  scripts/netns-multihost.sh check                 build the hosts, probe them with TCP, tear down
#                scripts/netns-multihost.sh partition --out DIR   the partition scenario (test/multihost/scenario.mjs)
#                  [--hosts 2..8] [--cut hN] [--hold MS]   (MS: how long the host stays cut off once seen down)
# Needs: unshare (util-linux), ip (iproute2), nats-server, node; `npm run build` (host.mjs runs from dist/).
#
# Safety: the script re-executes itself under `unshare --net --mount --pid --fork --kill-child --mount-proc
# --propagation private`, then refuses to go on unless its network namespace differs from the one
# it was started in and has no route at all (no default route, no address, only `lo`): nothing
# it does can reach the machine's real network. Named namespaces need /run/netns: a tmpfs is
# mounted on /run inside the private mount namespace (plain `ip netns add` would create
# /run/netns and its bind mounts in the machine's mount namespace, and they would outlive the
# script). Processes are stopped by PID; every loop is bounded; the EXIT trap tears everything
# down, and when the script dies anyway the kernel kills everything left in its PID namespace.
#
# Measured on the development machine: veth, bridges and `tc tbf` work; `netem`, `ping`, `dummy`
# links and nft/iptables do not, so reachability is probed with TCP (bash's /dev/tcp).
set -euo pipefail

SUBNET_PREFIX=10.213.0
BRIDGE=mhbr0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

die() {
  echo "netns-multihost: $*" >&2
  exit 3
}

mode=${1:-}
[[ $mode == check || $mode == partition ]] || {
  sed -n '/^# Usage/,/^# Needs/p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2
  exit 2
}
shift

if [[ ${ISOBROKER_MH_INSIDE:-} != 1 ]]; then
  [[ $(id -u) == 0 ]] || die "needs root (network namespaces, veth, bridge)"
  command -v unshare >/dev/null || die "needs unshare (util-linux)"
  command -v ip >/dev/null || die "needs ip (iproute2)"
  outer=$(readlink /proc/self/ns/net)
  ISOBROKER_MH_INSIDE=1 ISOBROKER_MH_OUTER_NETNS=$outer exec unshare --net --mount --pid --fork --kill-child --mount-proc \
    --propagation private -- bash "${BASH_SOURCE[0]}" "$mode" "$@"
fi

# ---- inside our own namespaces: refuse unless isolated ------------------------------------------
ours=$(readlink /proc/self/ns/net)
[[ -n ${ISOBROKER_MH_OUTER_NETNS:-} && $ours != "$ISOBROKER_MH_OUTER_NETNS" ]] ||
  die "refusing: not in a network namespace of its own ($ours)"
[[ -z $(ip -4 route show table all 2>/dev/null | grep -v '^local\|^broadcast' || true) ]] ||
  die "refusing: this namespace has IPv4 routes: $(ip -4 route show table all)"
[[ -z $(ip -6 route show table all 2>/dev/null | grep -v '^local\|^multicast\|^anycast' || true) ]] ||
  die "refusing: this namespace has IPv6 routes"
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[[ $links == "lo " ]] || die "refusing: this namespace has links other than lo: $links"
[[ -z $(ip -o addr show scope global) ]] || die "refusing: this namespace has global addresses"

hosts=3
out=
cut=
hold=
while (($#)); do
  case $1 in
  --hosts) hosts=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --cut) cut=$2; shift 2 ;;
  --hold) hold=$2; shift 2 ;;
  *) die "unknown argument $1" ;;
  esac
done
[[ $hosts =~ ^[2-8]$ ]] || die "--hosts: 2..8"
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
[[ -x $nats_server ]] || die "needs nats-server (Debian: apt-get install nats-server)"

cleanup() {
  set +e
  # Whatever is still running in the hosts, by PID (the scenario stops its own first).
  for h in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    for pid in $(ip netns pids "$h" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$h" 2>/dev/null
  done
  ip link del "$BRIDGE" 2>/dev/null
  umount /run 2>/dev/null
}
trap cleanup EXIT

# ---- the hosts ------------------------------------------------------------------------------------
mount -t tmpfs -o size=1m,mode=0755 isobroker-mh-run /run
mkdir -p /run/netns
ip link set lo up
ip link add "$BRIDGE" type bridge
ip link set "$BRIDGE" up
for i in $(seq 1 "$hosts"); do
  h=h$i
  addr=$SUBNET_PREFIX.$((10 + i))
  ip netns add "$h"
  ip link add "v-$h" type veth peer name eth0 netns "$h"
  ip link set "v-$h" master "$BRIDGE" up
  ip -n "$h" link set lo up
  ip -n "$h" addr add "$addr/24" dev eth0
  ip -n "$h" link set eth0 up
  # Each host: only the test subnet, no default route.
  [[ -z $(ip -n "$h" route show default) ]] || die "host $h has a default route"
done

if [[ $mode == check ]]; then
  # Listen on each host (a bounded listener), probe it from every other host, then cut h1 off.
  declare -a listeners=()
  for i in $(seq 1 "$hosts"); do
    ip netns exec "h$i" timeout 20 node -e \
      "require('net').createServer((s)=>s.end()).listen(7000,'$SUBNET_PREFIX.$((10 + i))')" &
    listeners+=($!)
  done
  ok=1
  for i in $(seq 1 "$hosts"); do
    for j in $(seq 1 "$hosts"); do
      ((i == j)) && continue
      reached=0
      for _ in $(seq 1 20); do # bounded: the listener may still be starting
        if ip netns exec "h$i" timeout 1 bash -c "exec 3<>/dev/tcp/$SUBNET_PREFIX.$((10 + j))/7000" 2>/dev/null; then
          reached=1
          break
        fi
        sleep 0.25
      done
      ((reached)) || { echo "h$i cannot reach h$j" >&2; ok=0; }
    done
  done
  ip link set v-h1 down
  if ip netns exec h2 timeout 1 bash -c "exec 3<>/dev/tcp/$SUBNET_PREFIX.11/7000" 2>/dev/null; then
    echo "h2 still reaches h1 with h1's link down" >&2
    ok=0
  fi
  ip link set v-h1 up
  for pid in "${listeners[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ((ok)) && echo "netns-multihost: $hosts hosts reach each other over TCP; a link down cuts one off"
  ((ok))
  exit
fi

[[ -n $out ]] || die "partition: --out DIR is required"
mkdir -p "$out"
[[ -f $repo/dist/src/node/index.js ]] || die "run npm run build first (host.mjs runs from dist/)"
node "$repo/test/multihost/scenario.mjs" --out "$out" --nats-server "$nats_server" --hosts "$hosts" \
  ${cut:+--cut "$cut"} ${hold:+--hold "$hold"}
