# elements/encrypt: adnc writes encrypt.bpf.o, encrypt_rpc.h ... into
# build/encrypt/; enc-client and enc-server link the RPC library and
# OpenSSL's libcrypto (the chain's `encrypt` element runs in the library:
# adn_udf_aead, rpc/udf_aead.c). Included by the top-level Makefile; until
# it is: make -f Makefile -f elements/encrypt/encrypt.mk encrypt
ELEM_ENCRYPT := $(BUILD)/encrypt/encrypt.bpf.o $(BIN)/enc-server $(BIN)/enc-client
$(BUILD)/encrypt/encrypt.bpf.o $(BUILD)/encrypt/encrypt_rpc.h: elements/encrypt/encrypt.adn $(BIN)/adnc $(BPF_HDRS)
	$(BIN)/adnc $< -o $(BUILD)/encrypt/
$(OBJ)/elements/encrypt/%.o: elements/encrypt/%.c elements/encrypt/enc_common.h $(BUILD)/encrypt/encrypt_rpc.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/encrypt -MMD -MP -c $< -o $@
$(BIN)/enc-server: $(OBJ)/elements/encrypt/enc_server.o $(EX_UTIL) $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ -lcrypto -o $@
$(BIN)/enc-client: $(OBJ)/elements/encrypt/enc_client.o $(EX_UTIL) $(LIBRPC)
	@mkdir -p $(dir $@); $(CC) $(CFLAGS) $^ -lcrypto -o $@
.PHONY: encrypt
encrypt: $(ELEM_ENCRYPT)
