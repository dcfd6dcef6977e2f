#!/bin/sh
# The whole test suite, as the README and CI run it:  ./scripts/test.sh
#
# It installs what the tests need (Debian packages, when run as root and
# they are missing), checks formatting and vet, then runs every test with
# the race detector. Under CI=true a missing component fails the tests
# instead of skipping them.
set -eu
cd "$(dirname "$0")/.."

if [ -x /usr/local/go/bin/go ]; then
	PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/doc/install)" >&2; exit 1; }

# Debian packages the tests use; installed only when missing.
need=""
for pkg in $(cat scripts/test-packages.txt 2>/dev/null | sed 's/#.*//'); do
	dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "test.sh: installing$need"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
	else
		echo "test.sh: missing Debian packages:$need (run as root to install them); their tests will skip" >&2
	fi
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
# staticcheck at a pinned version (built by go run, cached after the first run).
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The tests, through internal/testsum: each package's result line, the
# output of the tests that fail, and a count line ("N passed, N failed,
# N skipped"), printed again as the script's last line.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/testsum" ./internal/testsum
failed=0
{ go test -race -count=1 -timeout 15m -json "$@" ./...; echo $? >"$work/go-test-status"; } |
	"$work/testsum" -summary "$work/summary" || failed=1
if [ "$failed" != 0 ] || [ "$(cat "$work/go-test-status")" != 0 ]; then
	echo "test.sh: the tests failed: $(cat "$work/summary" 2>/dev/null)" >&2
	exit 1
fi
# Every benchmark once, so that they keep compiling and checking what they
# measure (docs/performance.md); only for a full run, not a filtered one.
if [ $# -eq 0 ]; then
	go test -race -count=1 -timeout 10m -run '^$' -bench . -benchtime=1x ./...
fi

# Every fuzz target briefly (PROX_FUZZTIME each, default 20000x), also
# only for a full run; `go test` fuzzes one target of one package at a time.
# The budget is a count of executions, not a duration: with a duration, Go's
# fuzzing coordinator can fail a target with a bare "context deadline
# exceeded" and no failing input when a loaded machine starves a worker at
# the deadline (go.dev/issue/75804); a count has no deadline to race.
# Their seed corpora (f.Add and testdata/fuzz/NAME/) already ran with the
# tests above. An input that fails is kept by Go in the package's
# testdata/fuzz/NAME/: this names the file and prints it, since CI's tree
# is thrown away. To fuzz one target longer:
#   go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 10m ./supervisor/config
if [ $# -eq 0 ]; then
	fuzzlog=$work/fuzz.log
	for file in $(git ls-files '*_test.go' 2>/dev/null || find . -name '*_test.go'); do
		file=${file#./}
		case "$file" in
		*testdata/*) continue ;;
		*/*) pkg=./${file%/*} ;;
		*) pkg=. ;;
		esac
		for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
			echo "test.sh: fuzzing $name in $pkg for ${PROX_FUZZTIME:-20000x}"
			if go test -run '^$' -fuzz "^$name\$" -fuzztime "${PROX_FUZZTIME:-20000x}" -fuzzminimizetime 10s "$pkg" >"$fuzzlog" 2>&1; then
				continue
			fi
			cat "$fuzzlog"
			input=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$fuzzlog" | head -n 1)
			if [ -n "$input" ] && [ -f "$pkg/$input" ]; then
				echo "test.sh: $name failed on an input kept in ${pkg#./}/$input:" >&2
				cat "$pkg/$input" >&2
			else
				echo "test.sh: fuzzing $name in $pkg failed" >&2
			fi
			exit 1
		done
	done
fi

if [ $# -eq 0 ]; then
	cat "$work/summary" # the last line of a full run
fi
