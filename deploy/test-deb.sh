#!/usr/bin/env bash
# Installs the Debian package that `make deb` built, checks it, and removes
# and purges it, failing at the first thing that is not as it should be.
# CI runs it as root on a fresh Debian machine (it changes the system: a
# package, a user, /etc/netbased):
#
#   make deb && bash deploy/test-deb.sh
#
# With an argument it tests that .deb file instead of build/netbased_*.deb.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (apt-get install systemd)"
deb=${1:-}
if [ -z "$deb" ]; then
	debs=(build/netbased_*.deb)
	[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || fail "want exactly one build/netbased_*.deb (run make deb), found: ${debs[*]}"
	deb=${debs[0]}
fi
if dpkg -s netbased >/dev/null 2>&1; then
	fail "netbased is already installed: this test installs and purges it, remove it first"
fi

step "dpkg -i $deb"
dpkg -i "$deb"
dpkg -s netbased | grep -q '^Status: install ok installed' || fail "not installed"

step "files, user, directories"
for f in /usr/bin/netbased /lib/systemd/system/netbased.service /etc/netbased/netbased.yaml \
	/usr/share/man/man1/netbased.1.gz /usr/share/doc/netbased/copyright; do
	[ -e "$f" ] || fail "$f not installed"
done
dpkg-query -W -f='${Conffiles}\n' netbased | grep -q '/etc/netbased/netbased.yaml' || fail "netbased.yaml is not a conffile"
getent passwd netbased >/dev/null || fail "no netbased user"
[ "$(stat -c %U:%G /var/log/netbased)" = netbased:netbased ] || fail "/var/log/netbased is not owned by netbased"
grep -q '^ExecStart=/usr/bin/netbased run ' /lib/systemd/system/netbased.service || fail "the unit does not start /usr/bin/netbased"

step "systemd-analyze verify (any output is a failure)"
out=$(systemd-analyze verify /lib/systemd/system/netbased.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"

step "netbased version"
netbased version
netbased version | head -1 | grep -q '^netbased [^ ]' || fail "netbased version"
netbased version | grep -q '^commit: [0-9a-f]\{7,\}' || fail "no commit in netbased version"

step "netbased check of the installed configuration (on lo)"
netbased check --config /etc/netbased/netbased.yaml --interface lo || fail "netbased check"

step "the man page"
zcat /usr/share/man/man1/netbased.1.gz | grep -q '^\.TH NETBASED 1' || fail "man page"

step "dpkg -r netbased (keeps the configuration)"
dpkg -r netbased
for f in /usr/bin/netbased /lib/systemd/system/netbased.service /usr/share/man/man1/netbased.1.gz; do
	[ ! -e "$f" ] || fail "$f left after dpkg -r"
done
[ -f /etc/netbased/netbased.yaml ] || fail "dpkg -r deleted the configuration"

step "dpkg --purge netbased (deletes configuration, records and state)"
dpkg --purge netbased
for f in /etc/netbased /var/log/netbased /var/lib/netbased /usr/share/doc/netbased; do
	[ ! -e "$f" ] || fail "$f left after dpkg --purge"
done
if dpkg -s netbased >/dev/null 2>&1; then
	fail "dpkg still knows netbased: $(dpkg -s netbased | grep Status)"
fi
echo "test-deb: ok ($deb installed, verified, removed and purged; the netbased system user stays, as Debian does)"
