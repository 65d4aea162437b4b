#!/bin/sh
# pkgconfig_consumer.sh BUILD_ROOT CC SOURCE [SANITIZE]: builds SOURCE (which includes only
# ferry/guest.h) with the flags `pkg-config --cflags --libs ferry-guest` gives against the
# uninstalled build tree, then runs it. SANITIZE (meson's b_sanitize, e.g. address,undefined)
# is passed on when the library was built with sanitizers, whose runtime it then needs.
# Fails if any step fails.
set -eu
build=$1 cc=$2 src=$3 sanitize=${4:-none}
extra=""
# A C driver does not link the sanitizers' C++ runtime parts the (C++) library needs.
[ "$sanitize" = none ] || extra="-fsanitize=$sanitize -fsanitize-link-c++-runtime -lstdc++"
export PKG_CONFIG_PATH="$build/meson-uninstalled"
flags=$(pkg-config --cflags --libs ferry-guest)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "pkg-config: $flags"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror $extra "$src" $flags -o "$out/consumer"
LD_LIBRARY_PATH="$build/guest-shim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$out/consumer"
