#!/bin/sh
# Install the Debian packages tinfer needs, only those that are missing.
# usage: tools/deps.sh [build|test]   (test = build + what the tests use)
set -eu
want="gcc make libc6-dev pkg-config libutf8proc-dev python3 python3-pip ca-certificates"
if [ "${1:-build}" = test ]; then
  want="$want libcmocka-dev strace valgrind"
fi
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "deps: all packages present"
  exit 0
fi
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
