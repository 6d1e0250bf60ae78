#!/bin/bash
# hostinit.sh HOST DIR: cluster.sh runs this as root inside the new network,
# UTS and (private) mount namespaces of test host HOST, once, at `up`. It
# gives the host what a real node has of its own; the namespaces, held by
# bind mounts of their files, keep all of it after this script exits.
set -euo pipefail

host=$1 dir=$2

hostname "$host"
# Node-local scratch: rendezvous directories, caches, PMIx and Open MPI
# session directories must not be shared between hosts.
for d in /tmp /var/tmp /dev/shm; do
	mount -t tmpfs -o mode=1777,nosuid,nodev,size=4g "mw-$host" "$d"
done
# Identity. UCX decides "same machine" (shared memory, cma) by comparing
# ucs_get_system_id(), which is derived from the boot_id only; one per host
# makes the hosts separate machines to UCX, ranks of one host still share.
mount --bind "$dir/boot_id" /proc/sys/kernel/random/boot_id
for f in hostname hosts machine-id; do
	mount --bind "$dir/$f" "/etc/$f"
done
# TCP without pacing. A new network namespace takes the machine's default
# congestion control, which may be bbr. bbr paces, so part of a flow's
# segments leave from a timer or from ACK processing on another CPU; a veth
# carries a segment to the receiver on the CPU that sent it, so segments
# sent from two CPUs overtake each other, and the receiver's SACKs trigger
# spurious retransmissions: 64 KiB bandwidth between two hosts then falls
# to half for tenths of a second at a time. A wire between real machines
# does not reorder. reno is built in and always allowed in a namespace.
echo reno >/proc/sys/net/ipv4/tcp_congestion_control
# A sysfs of this network namespace, as `ip netns exec` mounts, so that
# /sys/class/net shows the host's own interfaces (UCX lists its TCP devices
# there). Unlike ip netns exec, keep the cgroup tree (slurmd needs it).
mkdir "$dir/cgroup"
mount --rbind /sys/fs/cgroup "$dir/cgroup"
mount -t sysfs "mw-$host" /sys
mount --move "$dir/cgroup" /sys/fs/cgroup
rmdir "$dir/cgroup"
