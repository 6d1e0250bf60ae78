#!/bin/bash
# slurm.sh up | down: the test cluster's own Slurm, beside the single-node
# one of ci/slurm (own ClusterName, ports, state, pid and log files, config
# in /var/lib/mpiwrap-cluster/slurm/slurm.conf; pass SLURM_CONF to srun).
#   up:   one slurmctld in the root namespace, listening on the bridge, and
#         one slurmd per test host inside that host's namespaces (nsenter,
#         not `ip netns exec`, which remounts /sys and hides the cgroups),
#         sharing the host's private /tmp (srun --mpi=pmix needs that);
#         waits until `srun -N<all> true` runs.
#   down: stops those daemons (by pid file, then by their config path).
# cluster.sh calls both; idempotent. Needs munged (ci/slurm/setup.sh).
set -euo pipefail

run=/run/mpiwrap-cluster
lib=/var/lib/mpiwrap-cluster/slurm
logs=/var/log/mpiwrap-cluster
conf=$lib/slurm.conf
bridge_addr=10.77.0.1
export SLURM_CONF=$conf

log() { echo "cluster/slurm: $*" >&2; }

# until_ok SECS CMD...: retry CMD every 0.5 s for up to SECS seconds.
until_ok() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}

# ours: pids of slurmd/slurmctld processes started with our config.
ours() {
	local p
	for p in /proc/[0-9]*; do
		case "$(cat "$p/comm" 2>/dev/null)" in slurmd | slurmctld) ;; *) continue ;; esac
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-f $conf" && echo "${p#/proc/}"
	done
	return 0
}

down() {
	local pids _
	pids=$(ours)
	[ -z "$pids" ] && return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for _ in $(seq 20); do
		[ -z "$(ours)" ] && break
		sleep 0.5
	done
	pids=$(ours)
	if [ -n "$pids" ]; then
		log "killing $pids (ignored TERM)"
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$run"/slurm/*.pid
}

write_conf() {
	local names=() name addr
	cat <<EOF
# Written by ci/cluster/slurm.sh: the multi-host test cluster (no accounting).
ClusterName=mwcluster
SlurmctldHost=$(hostname -s)($bridge_addr)
SlurmctldPort=6917
SlurmdPort=6918
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
EnforcePartLimits=ALL
ReturnToService=2
KillWait=5
MinJobAge=10
StateSaveLocation=$lib/ctld
SlurmdSpoolDir=$lib/spool/%n
SlurmctldPidFile=$run/slurm/slurmctld.pid
SlurmdPidFile=$run/slurm/slurmd-%n.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd-%n.log
EOF
	while read -r name addr; do
		echo "NodeName=$name NodeAddr=$addr CPUs=8 State=UNKNOWN"
		names+=("$name")
	done <"$run/hosts"
	echo "PartitionName=mw Nodes=$(IFS=,; echo "${names[*]}") OverSubscribe=YES Default=YES MaxTime=INFINITE State=UP"
}

up() {
	local name addr n
	munge -n </dev/null | unmunge >/dev/null 2>&1 || { log "munged does not answer; run ci/slurm/setup.sh"; exit 1; }
	down
	rm -rf "$lib/ctld" "$lib/spool"
	mkdir -p "$lib/ctld" "$lib/spool" "$logs" "$run/slurm"
	write_conf >"$conf.tmp"
	mv -f "$conf.tmp" "$conf"
	slurmctld -f "$conf" </dev/null >/dev/null 2>&1
	until_ok 30 scontrol ping || { log "slurmctld not up; see $logs/slurmctld.log"; exit 1; }
	n=0
	while read -r name addr; do
		nsenter --net="/run/netns/mw-$name" --uts="$run/$name/uts" --mount="$run/$name/mnt" -- \
			slurmd -f "$conf" -N "$name" </dev/null >/dev/null 2>&1
		n=$((n + 1))
	done <"$run/hosts"
	until_ok 30 sh -c "[ \$(sinfo -h -N -o %T | grep -cv -e unknown -e '^$') = $n ]" || true
	scontrol update nodename="$(cut -d' ' -f1 "$run/hosts" | paste -sd,)" state=resume >/dev/null 2>&1 || true
	until_ok 60 timeout 20 srun --immediate=15 -N "$n" true </dev/null || {
		log "srun -N$n true fails; see $logs/"
		sinfo -N >&2 || true
		exit 1
	}
	log "running: $(sinfo -h -o '%P %D %T %N')"
}

case "${1:-}" in
up) up ;;
down) down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
