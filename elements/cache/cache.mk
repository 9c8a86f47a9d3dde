# elements/cache: adnc writes cache.bpf.o, cache_rpc.h ... into
# build/cache/; cache-client and cache-server (the kvc service of the
# element's example chain, UDP) link the RPC library; cache-server also the
# examples' helpers (examples/common/ex_util.c). Included by the
# top-level Makefile.
ELEM_CACHE := $(BUILD)/cache/cache.bpf.o $(BIN)/cache-server $(BIN)/cache-client
$(BUILD)/cache/cache.bpf.o: elements/cache/cache.adn $(BIN)/adnc $(BPF_HDRS)
	$(BIN)/adnc $< -o $(BUILD)/cache/
$(BUILD)/cache/cache_rpc.h: $(BUILD)/cache/cache.bpf.o ;
$(OBJ)/elements/cache/%.o: elements/cache/%.c $(BUILD)/cache/cache_rpc.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/cache -MMD -MP -c $< -o $@
$(BIN)/cache-server: $(OBJ)/elements/cache/cache_server.o $(EX_UTIL) $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ -o $@
$(BIN)/cache-client: $(OBJ)/elements/cache/cache_client.o $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ -o $@
.PHONY: cache
cache: $(ELEM_CACHE)
