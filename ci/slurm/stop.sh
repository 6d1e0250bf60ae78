#!/bin/bash
# stop.sh [--munge]: stop the slurmd and slurmctld that setup.sh started
# (found by their pid files), and munged too with --munge. Idempotent.
set -euo pipefail

run=/run/mpiwrap-ci

# stop_pid NAME PIDFILE: TERM the process if it is NAME, KILL it after 10 s.
stop_pid() {
	local name=$1 pidfile=$2 pid _
	[ -s "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 20); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "slurm/stop: $name ($pid) ignored TERM; killing" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$pidfile"
}

stop_pid slurmd "$run/slurmd.pid"
stop_pid slurmctld "$run/slurmctld.pid"
if [ "${1:-}" = --munge ]; then
	stop_pid munged /run/munge/munged.pid
fi
