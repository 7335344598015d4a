# lunaris - build everything into build/ (or build/asan with `make asan`).
#
#   make            liblunaris.{a,so}, lunaris, lunarisd, unit tests
#   make asan       the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       libFuzzer targets (clang) into build/fuzz/
#   make check      unit tests
#
# Sources are found by wildcard: a new lib/foo.c or tests/unit/test_foo.c is
# built without touching this file.

CC      ?= cc
BUILD   ?= build
WERROR  ?= -Werror
CSTD     = -std=c11 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter $(WERROR)
OPT     ?= -O2 -g
SAN     ?=
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SAN) -fPIC -Iinclude -Ilib -Istore $(CFLAGS)
LIBS     = -lcrypto -lpthread
CLI_LIBS = -ljansson
DAEMON_LIBS = -lsqlite3 -ljansson
CMOCKA_LIBS = -lcmocka

LIB_SRC  = $(wildcard lib/*.c)
CLI_SRC  = $(wildcard cli/*.c)
STORE_SRC = $(wildcard store/*.c)
DAEMON_SRC = $(wildcard daemon/*.c)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
STORE_OBJ = $(STORE_SRC:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BIN = $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)

all: $(BUILD)/liblunaris.a $(BUILD)/liblunaris.so $(BUILD)/lunaris $(BUILD)/lunarisd \
	$(BUILD)/store_crash $(UNIT_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/liblunaris.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/liblunaris.so: $(LIB_OBJ)
	$(CC) $(SAN) -shared -Wl,-soname,liblunaris.so.0 -o $@ $^ $(LIBS)

$(BUILD)/lunaris: $(CLI_OBJ) $(BUILD)/liblunaris.a
	$(CC) $(SAN) -o $@ $(CLI_OBJ) $(BUILD)/liblunaris.a $(CLI_LIBS) $(LIBS) -lm

$(BUILD)/lunarisd: $(DAEMON_OBJ) $(STORE_OBJ) $(BUILD)/liblunaris.a
	$(CC) $(SAN) -o $@ $(DAEMON_OBJ) $(STORE_OBJ) $(BUILD)/liblunaris.a $(DAEMON_LIBS) $(LIBS) -lm

# a helper for the store's crash test (tests/integration/t_store_crash.sh)
$(BUILD)/store_crash: tests/store_crash.c $(STORE_OBJ) $(BUILD)/liblunaris.a
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -o $@ $< $(STORE_OBJ) $(BUILD)/liblunaris.a \
		-lsqlite3 $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/liblunaris.a $(STORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -o $@ $< $(STORE_OBJ) $(BUILD)/liblunaris.a \
		$(CMOCKA_LIBS) -lsqlite3 $(LIBS) -lm

check: all
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all

FUZZ_CC ?= clang
build/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilib -Istore \
		-Idaemon -Icli -o $@ $(filter %.c,$^) $(LIBS) -lsqlite3 -ljansson -lm

# fuzzers of floors above lib/ name the files they need besides lib/*.c
build/fuzz/fuzz_control: daemon/control.c daemon/config.c daemon/log.c daemon/discovery.c \
	store/store.c
build/fuzz/fuzz_cliargs: cli/admin.c cli/discovery.c cli/node.c

fuzz: $(FUZZ_BIN)

clean:
	rm -rf build

.PHONY: all check asan fuzz clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(STORE_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d)
