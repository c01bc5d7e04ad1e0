#!/usr/bin/env bash
# Runs all N parts of a sharded infonce run on this machine with GNU parallel.
#
#   scripts/scale-out/run-parallel.sh N PARTDIR COMPUTE_ARGS...
#   infonce merge PARTDIR/part-*-of-N.infonce [output flags]
#
# Part K is `infonce compute COMPUTE_ARGS... --shard K/N -o
# PARTDIR/part-K-of-N.infonce`. Environment:
#   INFONCE  the binary (default: infonce on the PATH)
#   JOBS     parts run at once (default: the number of cores)
#   THREADS  --threads of each part, unless COMPUTE_ARGS give --threads
#            (default: the cores shared out among the JOBS parts, at least 1)
# Exits non-zero when a part fails (its error is on standard error); no
# part starts after that, the parts that were written stay, and a failed
# part leaves no file. docs/scale-out.md describes the whole scheme.

# Run by sh (dash) rather than bash: start again under bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

prog=$(basename "$0")
usage() {
    echo "usage: $prog N PARTDIR COMPUTE_ARGS...  (see the top of $0)" >&2
    exit 2
}
die() {
    echo "$prog: $*" >&2
    exit 2
}
fail() {
    echo "$prog: $*" >&2
    exit 1
}

[ $# -ge 3 ] || usage
n=$1
dir=$2
shift 2
[[ $n =~ ^[1-9][0-9]*$ ]] || die "N must be a whole number of at least 1, not '$n'"

infonce=${INFONCE:-infonce}
command -v parallel >/dev/null || fail "GNU parallel is not installed (apt-get install parallel, brew install parallel); scripts/scale-out/run-xargs.sh needs only xargs"
command -v "$infonce" >/dev/null || fail "cannot run '$infonce': set INFONCE to the infonce binary"
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
jobs=${JOBS:-$cores}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "JOBS must be a whole number of at least 1, not '$jobs'"

threads=()
case " $* " in
*" --threads "* | *" --threads="*) ;;
*)
    t=${THREADS:-$((cores / (jobs < n ? jobs : n)))}
    [[ $t =~ ^[0-9]+$ ]] || die "THREADS must be a whole number of at least 1, not '$t'"
    [ "$t" -ge 1 ] || t=1
    threads=(--threads "$t")
    ;;
esac

mkdir -p -- "$dir"

# -q quotes each argument for the shell parallel runs the command in, so
# arguments with spaces pass as they are; {#} is the job's number, 1..N.
# After the first failure no new part starts (--halt soon,fail=1).
if ! parallel -q --halt soon,fail=1 -j "$jobs" \
    "$infonce" compute "$@" ${threads[@]+"${threads[@]}"} --shard "{#}/$n" -o "$dir/part-{#}-of-$n.infonce" \
    ::: $(seq 1 "$n"); then
    echo "$prog: a part failed (its error is above); run the parts again before merging" >&2
    exit 1
fi
echo "$prog: $n parts in $dir; merge them with: infonce merge $(printf %q "$dir")/part-*-of-$n.infonce" >&2
