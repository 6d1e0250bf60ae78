#!/bin/bash
# setup.sh: start (or keep) a single-node Slurm for the tests: munged, then
# slurmctld and slurmd from /etc/slurm/slurm.conf, with one partition "ci"
# on this host declaring $MPIWRAP_CI_SLURM_CPUS CPUs (default 64, more than
# the machine has, through SlurmdParameters=config_overrides). Jobs may run
# as root and as any local user. Idempotent: when the daemons run with the
# same config and `srun -n 2 true` works, it changes nothing.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "slurm/setup.sh: must run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
host=$(hostname -s)
cpus=${MPIWRAP_CI_SLURM_CPUS:-64}
conf=/etc/slurm/slurm.conf
spool=/var/spool/mpiwrap-ci
logs=/var/log/mpiwrap-ci
run=/run/mpiwrap-ci

log() { echo "slurm/setup: $*" >&2; }

# until_ok SECS CMD...: retry CMD every 0.5 s for up to SECS seconds.
until_ok() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}

munge_ok() { munge -n </dev/null | unmunge >/dev/null; }

# start_munge: fix ownership (packages leave it root-owned in some images)
# and start munged as its own user, unless it already answers.
start_munge() {
	munge_ok 2>/dev/null && return 0
	mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
	if [ ! -s /etc/munge/munge.key ]; then
		log "creating /etc/munge/munge.key"
		dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
	fi
	chown -R munge: /etc/munge /var/lib/munge /var/log/munge /run/munge
	chmod 0700 /etc/munge /var/log/munge
	chmod 0600 /etc/munge/munge.key
	chmod 0755 /run/munge
	su -s /bin/sh munge -c munged </dev/null >/dev/null 2>&1 9>&-
	until_ok 10 munge_ok || { log "munged does not answer; see /var/log/munge/munged.log"; exit 1; }
	log "munged started"
}

write_conf() {
	cat <<EOF
# Written by ci/slurm/setup.sh for mpiwrap CI: one node, no accounting.
ClusterName=mpiwrapci
SlurmctldHost=$host
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
# Reject jobs that can never run (e.g. -n 100 > CPUs without --overcommit)
# at once instead of leaving them pending forever.
EnforcePartLimits=ALL
ReturnToService=2
KillWait=5
MinJobAge=10
StateSaveLocation=$spool/slurmctld
SlurmdSpoolDir=$spool/slurmd
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=ci Nodes=$host OverSubscribe=YES Default=YES MaxTime=INFINITE State=UP
EOF
}

srun_ok() { timeout 30 srun --immediate=20 -n 2 true </dev/null; }

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

mkdir -p /etc/slurm "$spool/slurmctld" "$spool/slurmd" "$logs" "$run"
exec 9>"$run/setup.lock"
flock 9
start_munge
new=$(write_conf)
if [ "$(cat "$conf" 2>/dev/null)" = "$new" ] && pid_alive "$run/slurmctld.pid" &&
	pid_alive "$run/slurmd.pid" && srun_ok 2>/dev/null; then
	log "already running and healthy on $host"
	exit 0
fi
"$here/stop.sh"
printf '%s\n' "$new" >"$conf.tmp"
mv -f "$conf.tmp" "$conf"
slurmctld </dev/null >/dev/null 2>&1 9>&-
until_ok 30 scontrol ping || { log "slurmctld not up; see $logs/slurmctld.log"; exit 1; }
slurmd </dev/null >/dev/null 2>&1 9>&-
# The node may be DOWN from an earlier state file; resume fails when it is not.
until_ok 30 sh -c "sinfo -h -n '$host' -o %T | grep -qv -e '^$' -e unknown" || true
scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
until_ok 60 srun_ok || {
	log "srun -n 2 true fails; see $logs/slurmd.log and $logs/slurmctld.log"
	sinfo -N >&2 || true
	exit 1
}
log "running on $host: $(sinfo -h -o '%P %D %c %T')"
