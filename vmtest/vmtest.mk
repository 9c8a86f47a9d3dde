# vmtest targets, included by the top-level Makefile (`include vmtest/vmtest.mk`).
#   make vmtest                 the kernel selftests in QEMU on every kernel in vmtest/kernels
#   make vmtest KERNEL=6.1      on one (KERNEL=6.1,6.12 for several)
#   make vmtest ONLY=chain      a subset of the tests, as for check-kernel
#   make vmtest-netdevsim       build netdevsim for each kernel, check the offload control
#                               path, then adnc's offload chains on it (offload-test.sh)
#   make vmtest-clean           forget the downloaded kernels (vmtest/.cache)
# Needs root; installs qemu-system-x86 if missing. See docs/testing.md.

.PHONY: vmtest vmtest-ci vmtest-netdevsim vmtest-clean

# What CI runs on every kernel (measured: docs/testing.md, "What CI runs"):
# the chain's behaviour on sockets, TC and XDP, logs, bad input, detach,
# layout checks, the verifier mapping, the reference object, the library
# elements that count by the clock (rate and bandwidth limits: their bounds
# follow the time each run measured, so TCG's slowness does not break them),
# live table changes, load balancing over TCP and UDP, migration under load,
# replies split by the network, the receiver's sk_skb and the cache element.
# Left to `make vmtest`: the slow ones
# (adnc's ~60 clang runs, the differential runs, snapshots of 1M rows, 100
# hot updates, 400 client processes of the A/B split, the s2 example).
VMTEST_CI_TESTS := chain,mixed,fault,log,malformed,detach,layout,verify,elem_acl,elem_fault,elem_mutation,place_udp,reference,elem_ratelimit,elem_bandwidth,elem_admission,elem_circuitbreaker,elem_metrics,table,lb_tcp,lb_udp,udp_tc,migrate,split_replies,place_receiver,elem_cache

vmtest-ci:
	@$(MAKE) --no-print-directory vmtest ONLY=$(VMTEST_CI_TESTS)

vmtest:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all $(TEST_TOOLS)
	KERNEL="$(KERNEL)" ONLY="$(ONLY)" vmtest/run.sh

vmtest-netdevsim:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all $(TEST_TOOLS)
	KERNEL="$(KERNEL)" VMTEST_NETDEVSIM=1 \
		VMTEST_CMD="vmtest/netdevsim-check.sh && vmtest/offload-test.sh" vmtest/run.sh

vmtest-clean:
	rm -rf vmtest/.cache $(BUILD)/vmtest
