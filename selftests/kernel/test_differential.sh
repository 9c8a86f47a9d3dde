#!/usr/bin/env bash
# Differential test, kernel level: every library element, the fused and
# reordered chains (selftests/golden/reorder.adn at -O0 and -O1, ten.adn,
# state.adn, features.adn) and an expression stress chain, each with 10,000
# random RPCs (and their responses) through the generated TC program under
# BPF_PROG_TEST_RUN and through the reference interpreter: verdicts, frames,
# log records and table rows must be identical. The work is done by the
# unit test binary build/selftests/test_differential
# (selftests/unit/test_differential.c); this runs it with the full count.
#   ADN_DIFF_RPCS=N ADN_DIFF_SEED=S ADN_DIFF_ONLY=<chain> override.
source "$(dirname "$0")/../lib.sh"
require_root

bin=$ADN_ROOT/build/selftests/test_differential
if [ ! -x "$bin" ]; then
	make -C "$ADN_ROOT" --no-print-directory build/selftests/test_differential >/dev/null ||
		{ echo "SKIP: cannot build $bin"; exit 77; }
fi
ADN_ROOT=$ADN_ROOT ADN_DIFF_RPCS=${ADN_DIFF_RPCS:-10000} "$bin" || fail "kernel and interpreter differ"
echo "ok"
