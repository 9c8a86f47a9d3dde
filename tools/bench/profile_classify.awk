# Sorts `perf script -F comm,ip,sym,dso` lines into kinds of work by symbol
# (tools/bench/profile.sh). Input: one sample per line, "COMM IP SYM (DSO)";
# only samples whose COMM matches the regex `procs` count. Output: one line
# per kind, "KIND<TAB>SAMPLES". The first matching rule wins, so narrow
# kinds (sockmap, copies) come before the broad ones (TCP/IP).
# With -v by=sym: one line per symbol instead, "KIND<TAB>SYM<TAB>SAMPLES".
function kind(sym, dso) {
	if (dso !~ /kernel\.kallsyms|bpf_prog/)
		return "userspace"
	if (sym ~ /^bpf_prog_/)
		return "chain programs"
	if (sym ~ /^(read_tsc|ktime_get|__ktime_get|kvm_clock|pvclock|bpf_ktime_get|native_sched_clock|sched_clock)/)
		return "clock reads"
	if (sym ~ /^(sk_msg|__sk_msg|sk_psock|__sk_psock|tcp_bpf|sock_map|__sock_map|sock_hash|__sock_hash|bpf_msg_|bpf_sk_redirect|bpf_sock_map|bpf_sock_hash|sk_skb|strp_|__strp|tcp_read_skb|sk_redirect)/)
		return "sockmap and tcp_bpf"
	if (sym ~ /^(bpf_|__bpf_|htab_|__htab_|array_map|percpu_array|ringbuf|__ringbuf|sk_storage|bpf_local_storage|__bpf_local_storage|jhash|pcpu_)/)
		return "BPF helpers and maps"
	if (sym ~ /(copy_user|_copy_to_iter|_copy_from_iter|memcpy|memmove|memset|copy_page|rep_movs|csum_partial|skb_copy_datagram|simple_copy_to_iter|copyin|copyout)/)
		return "copies"
	if (sym ~ /^(kmem_cache|__kmem_cache|kmalloc|__kmalloc|kfree|__kfree|kmalloc_reserve|__slab|slab_|___slab|page_frag|__page_frag|alloc_pages|__alloc_pages|free_unref|get_page_from|rmqueue|__free_pages|mod_memcg|__mod_memcg|memcg_|obj_cgroup|refill_obj|__memcg|mem_cgroup|__mem_cgroup|sk_mem_|__sk_mem_)/)
		return "memory allocation"
	if (sym ~ /^(tcp|__tcp|ip_|__ip_|ipv4_|inet|__inet|skb_|__skb|kfree_skb|consume_skb|__alloc_skb|alloc_skb|__kfree_skb|loopback|__netif|netif_|net_rx|process_backlog|__dev_|dev_|validate_xmit|sch_|__qdisc|qdisc|nf_|sk_|__sk_|sock_|__sock|release_sock|lock_sock|__release_sock|raw_|udp|__udp|napi|__napi|eth_|neigh|dst_|fib_|rt_|__local_bh|do_softirq|__do_softirq|net_)/)
		return "TCP/IP and loopback"
	if (sym ~ /^(entry_|do_syscall|__x64_sys|__sys_|sys_|syscall_|ep_|__ep_|epoll|do_epoll|schedule|__schedule|pick_next|try_to_wake|ttwu|enqueue|dequeue|update_curr|finish_task|__switch|switch_|psi_|_raw_spin|native_|pv_|rcu|fput|fget|__fget|__fput|fdget|do_sys|ksys_|vfs_|rw_verify|security_|__wake_up|wake_up|futex|hrtimer|select_task|update_|__update|load_balance|restore_regs|exit_to_user|__cond_resched|mutex|__mutex|irq|__irq|asm_|sysvec|ret_from|set_next|put_prev|check_preempt|resched|__rseq|rseq|__fdget|import_|__import|copy_msghdr|___sys|__get_user|__put_user)/)
		return "syscalls/epoll/scheduler"
	return "other kernel"
}
{
	comm = $1
	if (comm !~ procs)
		next
	dso = $NF
	sym = $3
	k = kind(sym, dso)
	if (by == "sym")
		n[k "\t" (k == "userspace" ? dso : sym)]++
	else
		n[k]++
}
END {
	for (k in n)
		printf "%s\t%d\n", k, n[k]
}
