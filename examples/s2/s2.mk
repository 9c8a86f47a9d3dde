# The paper's section 2 example (examples/s2): adnc writes s2.bpf.o, s2.bpf.c,
# s2.json and s2_rpc.h into build/s2/; s2-client and s2-server link the RPC
# library and zlib (the chain's `compress` element runs in the library).
EXAMPLE_S2 := $(BUILD)/s2/s2.bpf.o $(BIN)/s2-server $(BIN)/s2-client
$(BUILD)/s2/s2.bpf.o $(BUILD)/s2/s2_rpc.h: examples/s2/s2.adn $(BIN)/adnc $(BPF_HDRS)
	$(BIN)/adnc $< -o $(BUILD)/s2/
$(OBJ)/examples/s2/%.o: examples/s2/%.c examples/s2/s2_common.h $(BUILD)/s2/s2_rpc.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/s2 -MMD -MP -c $< -o $@
$(BIN)/s2-server: $(OBJ)/examples/s2/s2_server.o $(EX_UTIL) $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ -lz -o $@
$(BIN)/s2-client: $(OBJ)/examples/s2/s2_client.o $(EX_UTIL) $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ -lz -o $@
.PHONY: s2
s2: $(EXAMPLE_S2)
