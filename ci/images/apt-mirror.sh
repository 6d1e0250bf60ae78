#!/bin/bash
# apt-mirror.sh [APT_DIR]: print the Debian mirror that this machine's apt
# sources (APT_DIR, default /etc/apt) name for Debian's main archive, so that
# a site with a local mirror debootstraps from it unchanged; print
# http://deb.debian.org/debian when they name none. build-debian.sh uses it
# unless MPIWRAP_CI_MIRROR is set.
#
# A source is Debian's main archive when it is of type deb, has the
# component main and a plain Debian suite (bookworm, stable, sid, ...; not
# bookworm-updates or bookworm-security, whose archives debootstrap can't
# use), and its URI is http, https, ftp or file. Files are read in this
# order and the first such source wins: sources.list.d/debian.sources
# (deb822, Debian 12's default), sources.list, then the other
# sources.list.d/*.sources and *.list.
set -euo pipefail

apt=${1:-/etc/apt}
fallback=http://deb.debian.org/debian
codename=
if [ -r /etc/os-release ]; then
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
fi
suites="$codename jessie stretch buster bullseye bookworm trixie forky duke sid
	oldoldstable oldstable stable testing unstable"

# deb822 stanzas: Key: value, continuation lines indented, blank lines
# between stanzas, # comments.
from_deb822() {
	awk -v known="$suites" '
	BEGIN { n = split(known, k); for (i = 1; i <= n; i++) isknown[k[i]] = 1; reset() }
	function reset() { types = uris = dists = comps = key = ""; enabled = "yes" }
	function set(k, v) {
		if (k == "types") types = types " " v
		else if (k == "uris") uris = uris " " v
		else if (k == "suites") dists = dists " " v
		else if (k == "components") comps = comps " " v
		else if (k == "enabled") enabled = tolower(v)
	}
	function has(list, word,   n, w, i) {
		n = split(list, w)
		for (i = 1; i <= n; i++) if (w[i] == word) return 1
		return 0
	}
	function flush(   n, s, i, u, ok) {
		if (!found && enabled != "no" && has(types, "deb") && has(comps, "main")) {
			n = split(dists, s)
			for (i = 1; i <= n; i++) if (s[i] in isknown) ok = 1
			if (ok) {
				n = split(uris, u)
				for (i = 1; i <= n; i++)
					if (u[i] ~ /^(https?|ftp|file):/) { print u[i]; found = 1; break }
			}
		}
		reset()
	}
	/^#/ { next }
	/^[ \t]*$/ { flush(); next }
	/^[ \t]/ { v = $0; sub(/^[ \t]+/, "", v); if (key != "") set(key, v); next }
	{
		c = index($0, ":")
		if (c == 0) next
		key = tolower(substr($0, 1, c - 1)); sub(/[ \t]+$/, "", key)
		v = substr($0, c + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
		set(key, v)
	}
	END { flush() }' "$1"
}

# One-line sources: deb [options] URI SUITE COMPONENT...
from_list() {
	awk -v known="$suites" '
	BEGIN { n = split(known, k); for (i = 1; i <= n; i++) isknown[k[i]] = 1 }
	{
		line = $0; sub(/#.*/, "", line); gsub(/\[[^]]*\]/, " ", line)
		n = split(line, f)
		if (n < 4 || f[1] != "deb" || !(f[3] in isknown) || f[2] !~ /^(https?|ftp|file):/) next
		for (i = 4; i <= n; i++) if (f[i] == "main") { print f[2]; exit }
	}' "$1"
}

files=()
[ ! -f "$apt/sources.list.d/debian.sources" ] || files+=("$apt/sources.list.d/debian.sources")
[ ! -f "$apt/sources.list" ] || files+=("$apt/sources.list")
for f in "$apt"/sources.list.d/*.sources "$apt"/sources.list.d/*.list; do
	[ ! -f "$f" ] || [ "$f" = "$apt/sources.list.d/debian.sources" ] || files+=("$f")
done
for f in "${files[@]}"; do
	case $f in
	*.sources) m=$(from_deb822 "$f" 2>/dev/null) || m= ;;
	*) m=$(from_list "$f" 2>/dev/null) || m= ;;
	esac
	if [ -n "$m" ]; then
		echo "${m%/}"
		exit 0
	fi
done
echo "$fallback"
