# vmtest targets, included by the top-level Makefile (`include vmtest/vmtest.mk`).
#   make vmtest                 the kernel selftests in QEMU on every kernel in vmtest/kernels
#   make vmtest KERNEL=6.1      on one (KERNEL=6.1,6.12 for several)
#   make vmtest ONLY=chain      a subset of the tests, as for check-kernel
#   make vmtest-netdevsim       build netdevsim for each kernel, check the offload control
#                               path, then adnc's offload chains on it (offload-test.sh)
#   make vmtest-clean           forget the downloaded kernels (vmtest/.cache)
# Needs root; installs qemu-system-x86 if missing. See docs/testing.md.

.PHONY: vmtest vmtest-netdevsim vmtest-clean

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
