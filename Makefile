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
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SAN) -fPIC -Iinclude -Ilib -Istore -Impx $(CFLAGS)
LIBS     = -lcrypto -lpthread
CLI_LIBS = -ljansson
DAEMON_LIBS = -lsqlite3 -ljansson
# the FUSE export (daemon/fuse.c) uses libfuse3
FUSE_CFLAGS := $(shell pkg-config fuse3 --cflags 2>/dev/null || echo -I/usr/include/fuse3)
FUSE_LIBS   := $(shell pkg-config fuse3 --libs 2>/dev/null || echo -lfuse3)
DAEMON_LIBS += $(FUSE_LIBS)
CMOCKA_LIBS = -lcmocka

LIB_SRC  = $(wildcard lib/*.c)
CLI_SRC  = $(wildcard cli/*.c)
STORE_SRC = $(wildcard store/*.c)
MPX_SRC  = $(wildcard mpx/*.c)
DAEMON_SRC = $(wildcard daemon/*.c)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
STORE_OBJ = $(STORE_SRC:%.c=$(BUILD)/obj/%.o)
MPX_OBJ  = $(MPX_SRC:%.c=$(BUILD)/obj/%.o)
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

$(BUILD)/lunarisd: $(DAEMON_OBJ) $(STORE_OBJ) $(MPX_OBJ) $(BUILD)/liblunaris.a
	$(CC) $(SAN) -o $@ $(DAEMON_OBJ) $(STORE_OBJ) $(MPX_OBJ) $(BUILD)/liblunaris.a $(DAEMON_LIBS) \
		$(LIBS) -lm

# a helper for the store's crash test (tests/integration/t_store_crash.sh)
$(BUILD)/store_crash: tests/store_crash.c $(STORE_OBJ) $(BUILD)/liblunaris.a
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -o $@ $< $(STORE_OBJ) $(BUILD)/liblunaris.a \
		-lsqlite3 $(LIBS)

# Unit tests link the floors they may test (store/, mpx/) and any pure daemon
# objects named below, like the fuzzers' extra lines.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/liblunaris.a $(STORE_OBJ) $(MPX_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Idaemon -Wno-missing-prototypes -o $@ $< $(filter %.o,$^) \
		$(BUILD)/liblunaris.a $(CMOCKA_LIBS) -lsqlite3 $(LIBS) -lm

$(BUILD)/obj/daemon/fuse.o: CFLAGS_ALL += $(FUSE_CFLAGS)

$(BUILD)/tests/test_nbdproto: $(BUILD)/obj/daemon/nbdproto.o

# test_doctor drives the pure analysis of `lunaris doctor` (cli/doctor.c).
$(BUILD)/tests/test_doctor: $(BUILD)/obj/cli/doctor.o
$(BUILD)/tests/test_doctor: CMOCKA_LIBS += -ljansson

# test_params compiles daemon/params.c in (to reach its static helpers) and
# stubs lund_log; params.c speaks JSON.
$(BUILD)/tests/test_params: daemon/params.c daemon/daemon.h
$(BUILD)/tests/test_params: CMOCKA_LIBS += -ljansson

check: all
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all

FUZZ_CC ?= clang
FUZZ_FLAGS = $(CSTD) -g -O1 -Iinclude -Ilib -Istore -Impx -Idaemon -Icli
FUZZ_OBJ_DIR = build/fuzz/obj
fuzz_obj = $(patsubst %.c,$(FUZZ_OBJ_DIR)/%.o,$(1))

# Every source is compiled once with the fuzzing instrumentation, and each
# fuzzer links lib/ plus the objects its line below names (compiling lib/
# again for each of 15 fuzzers took most of CI's fuzz stage).
$(FUZZ_OBJ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@

build/fuzz/%: fuzz/%.c $(call fuzz_obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(filter %.o,$^) \
		$(LIBS) -lsqlite3 -ljansson -lm

# fuzzers of floors above lib/ name the objects they need besides lib/
build/fuzz/fuzz_control: $(call fuzz_obj,daemon/control.c daemon/config.c daemon/log.c \
	daemon/discovery.c daemon/params.c daemon/busconfig.c daemon/busscan.c daemon/buslist.c \
	daemon/isns.c daemon/lu.c daemon/luadmin.c store/store.c mpx/policy.c mpx/alua.c \
	mpx/lu_id.c)
build/fuzz/fuzz_cliargs: $(call fuzz_obj,cli/admin.c cli/discovery.c cli/node.c cli/target.c \
	cli/lu.c mpx/lu_id.c)
build/fuzz/fuzz_doctor: $(call fuzz_obj,cli/doctor.c)
build/fuzz/fuzz_nbd: $(call fuzz_obj,daemon/nbdproto.c)
build/fuzz/fuzz_alua: $(call fuzz_obj,mpx/alua.c)
build/fuzz/fuzz_luid: $(call fuzz_obj,mpx/lu_id.c)
build/fuzz/fuzz_policy: $(call fuzz_obj,mpx/policy.c)

-include $(wildcard $(FUZZ_OBJ_DIR)/*/*.d)

fuzz: $(FUZZ_BIN)

clean:
	rm -rf build

.PHONY: all check asan fuzz clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(STORE_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) \
	$(MPX_OBJ:.o=.d)
