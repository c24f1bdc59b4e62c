#!/usr/bin/env bash
# Installs frost to a temporary prefix, moves the prefix, and uses it as a product would (issue 21):
#  - nothing installed names the source or build tree (the binaries are stripped of debug paths first);
#  - the installed `frost` runs from elsewhere and carries its default vocabulary inside itself, and neither
#    it nor the example opens any file of the source or build tree (strace): as if both were deleted;
#  - examples/embed builds against the moved prefix through find_package (shared, then static) and through
#    pkg-config, links frost alone, and ranks captions for a clip — under ASan in the sanitizer build.
#   tests/install_test.sh SOURCE_DIR BUILD_DIR release|sanitize
set -euo pipefail
src=$1 build=$2 mode=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/frost_install.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/first" --strip > "$work/install.log"
# No installed file refers to where frost was built: a moved or copied prefix must work. (In the sanitizer
# build, UBSan's checks carry the source locations of the headers they were compiled from — diagnostics of a
# build that is never shipped — so only its text files are searched; the traced runs below still show that
# nothing there is read.)
binaries=()
[ "$mode" = sanitize ] && binaries=(! -name '*.so*' ! -path '*/bin/*')
for f in $(find "$work/first" -type f ! -name '*.a' "${binaries[@]}"); do
  if grep -q -a -F -e "$src" -e "$build" "$f"; then
    grep -a -o -F -e "$src" -e "$build" "$f" | head -3 >&2
    fail "$f names the source or build tree"
  fi
done
mv "$work/first" "$work/moved"
P=$work/moved
lib=$(find "$P" -name 'libfrost.so' -printf '%h\n' | head -1)
[ -n "$lib" ] || fail "no libfrost.so installed"
[ -f "$P/include/frost/frost.h" ] && [ -f "$P/include/frost/frost.hpp" ] || fail "headers missing"
[ -f "$P/share/doc/frost/NOTICE.md" ] || fail "the vocabulary's notice is not installed"
# Every library the installed binaries need resolves, and one outside the system's folders (CUDA's) is
# found through the binary's own run path, not the environment.
for bin in "$P/bin/frost" "$lib"/libfrost.so; do
  if ldd "$bin" | grep -q "not found"; then ldd "$bin" | grep "not found" >&2; fail "$bin: libraries not found"; fi
  runpath=$(readelf -d "$bin" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
  for dir in $(ldd "$bin" | sed -n 's/.*=> \(\/[^ ]*\)\/[^/ ]* (.*/\1/p' | sort -u); do
    case $dir in
      /lib|/lib64|/usr/lib|/lib/*-linux-gnu|/usr/lib/*-linux-gnu|/usr/lib64) ;;
      *) case ":$runpath:" in *":$dir:"*) ;; *) fail "$bin needs a library in $dir, which its run path ($runpath) lacks" ;; esac ;;
    esac
  done
done

# The inputs, copied out of the source tree: every file the runs below open must be outside it.
mkdir "$work/data"
cp "$src/tests/parity/fixtures/tiny_dual_weights.safetensors" "$src/tests/parity/fixtures/tiny_vocab.txt" \
   "$src/tests/fixtures/images/quadrants.png" "$work/data/"
weights=$work/data/tiny_dual_weights.safetensors vocab=$work/data/tiny_vocab.txt clip=$work/data/quadrants.png
cd "$work"  # nowhere near the source tree
# Runs a command under strace and fails if it opened (or tried to open) anything in the source or build tree.
untethered() {
  local rc=0
  # LeakSanitizer cannot run under ptrace: leaks are checked in the untraced runs of the examples.
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    strace -f -qq -e trace=open,openat,openat2,execve,stat,newfstatat,access -o trace.txt "$@" || rc=$?
  if grep -q -F -e "\"$src/" -e "\"$build/" trace.txt; then
    grep -F -e "\"$src/" -e "\"$build/" trace.txt | head -3 >&2
    fail "$1 touched the source or build tree"
  fi
  grep -q execve trace.txt || fail "strace recorded nothing: is ptrace allowed here?"
  return $rc
}
# The installed command: the default vocabulary is read from the binary (30,522 tokens, which do not fit the
# tiny model's table: the error says so, so the vocabulary was found); with --vocab it encodes.
if untethered "$P/bin/frost" encode text --weights "$weights" --config tiny "a dog" --out t.npy 2> err.txt; then
  fail "the default vocabulary fitted the tiny model?"
fi
grep -q "30522 tokens" err.txt || { cat err.txt >&2; fail "the installed frost did not read its built-in vocabulary"; }
untethered "$P/bin/frost" encode text --weights "$weights" --config tiny --vocab "$vocab" "a dog" --out t.npy \
  || fail "the installed frost cannot encode"

flags=()
if [ "$mode" = sanitize ]; then
  san="-fsanitize=address,undefined -fno-omit-frame-pointer"
  flags=(-DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san")
fi
run_example() {  # $1: the binary; ranks two captions for one clip, best first: untraced, then traced
  local args=("$weights" "$clip" "dog running on the beach" "a man is cooking food" --config tiny --vocab "$vocab")
  "$1" "${args[@]}" > ranked.txt || fail "$1 failed"
  [ "$(wc -l < ranked.txt)" = 2 ] || { cat ranked.txt >&2; fail "$1 printed no ranking"; }
  untethered "$1" "${args[@]}" > /dev/null || fail "$1 failed under strace"
}
for linkage in shared static; do
  static=OFF
  [ $linkage = static ] && static=ON
  cmake -S "$src/examples/embed" -B "ex_$linkage" -G Ninja -DCMAKE_PREFIX_PATH="$P" -DFROST_STATIC=$static \
    -DCMAKE_BUILD_TYPE=Release "${flags[@]}" > "ex_$linkage.log" 2>&1 || { cat "ex_$linkage.log" >&2; fail "configure ($linkage)"; }
  cmake --build "ex_$linkage" >> "ex_$linkage.log" 2>&1 || { cat "ex_$linkage.log" >&2; fail "build ($linkage)"; }
  run_example "ex_$linkage/rank_captions"
done
# A consumer of the shared library links frost alone: none of frost's own dependencies is its direct need.
needed=$(readelf -d ex_shared/rank_captions | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
for n in $needed; do
  case $n in
    libfrost.so.*|libc.so.*|libm.so.*|libasan.so.*|libubsan.so.*|libstdc++.so.*|libgcc_s.so.*) ;;
    *) fail "rank_captions needs $n directly: a consumer should link frost alone ($needed)" ;;
  esac
done
# pkg-config, from the moved prefix (its .pc file finds the prefix from where it lies).
cc_flags=$(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --cflags --libs frost) || fail "pkg-config frost"
cc -std=c99 ${san:-} "$src/examples/embed/rank_captions.c" $cc_flags -Wl,-rpath,"$lib" -o rank_pc \
  || fail "cc with pkg-config's flags"
run_example ./rank_pc
# pkg-config --static: libfrost.a (chosen over the .so) and what it needs, from Libs.private.
static_flags=$(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --static --cflags --libs frost) || fail "pkg-config --static"
static_flags=${static_flags/-lfrost /-Wl,-Bstatic -lfrost -Wl,-Bdynamic }
cc -std=c99 ${san:-} "$src/examples/embed/rank_captions.c" $static_flags -o rank_pc_static \
  || fail "cc with pkg-config --static's flags ($static_flags)"
readelf -d rank_pc_static | grep -q "libfrost.so" && fail "rank_pc_static linked the shared library"
run_example ./rank_pc_static
echo "install_test: installed, moved, and used from $P ($mode): frost, find_package shared and static, pkg-config shared and static"
