# Sourced by bench/prune.sh and bench/scale.sh: builds cairn and gencorpus
# into $work/bin and picks the two restics they compare with:
#   restic_new  RESTIC_BIN, or restic RESTIC_VERSION (default v0.19.1) built
#               from the Go module proxy into $work/bin
#   restic_old  RESTIC_OLD, or restic on PATH (Debian's 0.14); empty when
#               RESTIC_OLD=none, when there is none, or when it is the same
#               version as restic_new
# Needs $root (the repository) and $work set.
mkdir -p "$work/bin"
go build -o "$work/bin/cairn" "$root/cmd/cairn"
go build -o "$work/bin/gencorpus" "$root/bench/gencorpus"
restic_new=${RESTIC_BIN:-}
if [ -z "$restic_new" ]; then
  GOBIN=$work/bin go install "github.com/restic/restic/cmd/restic@${RESTIC_VERSION:-v0.19.1}"
  restic_new=$work/bin/restic
fi
restic_old=${RESTIC_OLD:-$(command -v restic || true)}
if [ "$restic_old" = none ] ||
  { [ -n "$restic_old" ] && [ "$("$restic_old" version | cut -d' ' -f2)" = "$("$restic_new" version | cut -d' ' -f2)" ]; }; then
  restic_old=
fi
