/* A QEMU TCG plugin that counts executed guest instructions (for bench/c_student.py's NEON
 * figure): every translated block adds its instruction count to a counter each time it runs.
 * Written against QEMU's plugin API (version 1, as Debian's qemu-user 7.2 loads); only the
 * declarations it uses are given here.
 *   gcc -shared -fPIC -O2 -o insn.so bench/qemu_insn_count.c
 *   qemu-aarch64 -plugin ./insn.so -d plugin ./program
 * With FK_INSN_PROFILE=FILE in the environment it also writes one line per translated block,
 * "start-address instructions executions", for attributing counts to functions (nm). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                                     uint64_t imm);
extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
extern void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t executed;

/* per translated block, when profiling: where it starts, its size, how often it ran; in chunks
 * that never move once a counter points into them */
struct block {
    uint64_t vaddr, insns, runs;
};
#define CHUNK 65536
static struct block *chunks[4096];
static size_t nblocks;
static const char *profile;

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    struct block *b;
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, qemu_plugin_tb_n_insns(tb));
    if (profile == NULL || nblocks >= CHUNK * 4096) return;
    if (nblocks % CHUNK == 0 && (chunks[nblocks / CHUNK] = calloc(CHUNK, sizeof(struct block))) == NULL) abort();
    b = &chunks[nblocks / CHUNK][nblocks % CHUNK];
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    b->insns = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->runs, 1);
    nblocks++;
}

static void finished(qemu_plugin_id_t id, void *userdata)
{
    char line[64];
    (void)id;
    (void)userdata;
    snprintf(line, sizeof line, "instructions %" PRIu64 "\n", executed);
    qemu_plugin_outs(line);
    if (profile != NULL) {
        FILE *f = fopen(profile, "w");
        size_t i;
        for (i = 0; f != NULL && i < nblocks; i++) {
            const struct block *b = &chunks[i / CHUNK][i % CHUNK];
            if (b->runs > 0) fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", b->vaddr, b->insns, b->runs);
        }
        if (f != NULL) fclose(f);
    }
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                                               char **argv)
{
    (void)info;
    (void)argc;
    (void)argv;
    profile = getenv("FK_INSN_PROFILE");
    qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
    qemu_plugin_register_atexit_cb(id, finished, NULL);
    return 0;
}
