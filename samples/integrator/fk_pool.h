/* A small pthread pool for a generated model's `<prefix>_run_parallel` (header only, C99 with
 * POSIX threads: build with -pthread). Any pool of that shape works; this one keeps its threads
 * waiting between runs and splits [0, n) into one contiguous chunk per thread, which the threads
 * (the caller's too) claim one at a time, so a thread the OS has not yet woken or has
 * descheduled holds up no more than the chunk it took, if any (the model's bytes are the same for
 * any split; more chunks per thread cost about 10 % of a 2-thread run on a quiet machine). A
 * model's run is some fifty short steps, so threads spin a little (FK_POOL_SPIN polls) for the
 * next step or for the chunks to finish before they sleep: a sleeping thread takes tens of
 * microseconds to wake, on a busy virtual machine milliseconds. Needs gcc or clang (__atomic
 * builtins).
 *
 *     struct fk_pool *pool = fk_pool_create(4);        (NULL on failure)
 *     model_run_parallel(input, logits, workspace, fk_pool_parallel_for, pool);
 *     fk_pool_destroy(pool);
 *
 * One run at a time per pool. */
#ifndef FK_POOL_H
#define FK_POOL_H

#include <pthread.h>
#include <stdlib.h>

#define FK_POOL_MAX_THREADS 64
#ifndef FK_POOL_SPIN
#define FK_POOL_SPIN 200000
#endif

struct fk_pool;

struct fk_pool_worker {
    struct fk_pool *pool;
    int index;
};

struct fk_pool {
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    pthread_t threads[FK_POOL_MAX_THREADS];
    struct fk_pool_worker workers[FK_POOL_MAX_THREADS];
    int count;         /* threads, the caller's included */
    int started;       /* threads created */
    unsigned long run; /* incremented for each parallel_for (atomic) */
    /* the run's id (low 32 bits of run) << 32 | the next chunk to claim (atomic) */
    unsigned long long work;
    int finished; /* chunks of this run done (atomic) */
    int quit;
    void (*task)(void *, int, int);
    void *task_data;
    int n, chunks;
};

/* thread i's share of [0, n) */
static void fk_pool_range(int n, int count, int i, int *begin, int *end)
{
    *begin = (int)((long long)n * i / count);
    *end = (int)((long long)n * (i + 1) / count);
}

/* claims and runs chunks of run `id` until none is left: a claim succeeds only while the word
 * still holds this run's id and the chunk (so the fields read are this run's: it cannot end,
 * nor the next begin, before the claimed chunk is done); the thread finishing the last chunk
 * wakes the caller */
static void fk_pool_work(struct fk_pool *p, unsigned long long id)
{
    for (;;) {
        unsigned long long w = __atomic_load_n(&p->work, __ATOMIC_ACQUIRE);
        int chunks, c, begin, end;
        if (w >> 32 != id) return;
        chunks = __atomic_load_n(&p->chunks, __ATOMIC_RELAXED);
        c = (int)(w & 0xFFFFFFFFu);
        if (c >= chunks) return;
        if (!__atomic_compare_exchange_n(&p->work, &w, w + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
        fk_pool_range(p->n, chunks, c, &begin, &end);
        if (begin < end) p->task(p->task_data, begin, end);
        if (__atomic_add_fetch(&p->finished, 1, __ATOMIC_ACQ_REL) == chunks) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

static void *fk_pool_main(void *arg)
{
    struct fk_pool_worker *w = (struct fk_pool_worker *)arg;
    struct fk_pool *p = w->pool;
    unsigned long seen = 0;
    for (;;) {
        int spin;
        for (spin = 0; spin < FK_POOL_SPIN && __atomic_load_n(&p->run, __ATOMIC_ACQUIRE) == seen; spin++) {
        }
        pthread_mutex_lock(&p->lock);
        while (__atomic_load_n(&p->run, __ATOMIC_ACQUIRE) == seen && !p->quit) pthread_cond_wait(&p->start, &p->lock);
        if (p->quit) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        pthread_mutex_unlock(&p->lock);
        seen = __atomic_load_n(&p->run, __ATOMIC_ACQUIRE);
        fk_pool_work(p, seen & 0xFFFFFFFFu);
    }
}

static void fk_pool_destroy(struct fk_pool *p)
{
    int i;
    if (p == NULL) return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->started; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->start);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* `threads` threads in all (1 to FK_POOL_MAX_THREADS + 1), the caller's included */
static struct fk_pool *fk_pool_create(int threads)
{
    struct fk_pool *p;
    int i;
    if (threads < 1 || threads > FK_POOL_MAX_THREADS + 1 || (p = calloc(1, sizeof *p)) == NULL) return NULL;
    p->count = threads;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    for (i = 1; i < threads; i++) {
        p->workers[i - 1].pool = p;
        p->workers[i - 1].index = i;
        if (pthread_create(&p->threads[i - 1], NULL, fk_pool_main, &p->workers[i - 1]) != 0) {
            fk_pool_destroy(p);
            return NULL;
        }
        p->started++;
    }
    return p;
}

/* the parallel_for of `<prefix>_run_parallel` */
static void fk_pool_parallel_for(void *pool, int n, void (*task)(void *, int, int), void *task_data)
{
    struct fk_pool *p = (struct fk_pool *)pool;
    unsigned long long id;
    int spin;
    if (p->count == 1 || n <= 1) {
        if (n > 0) task(task_data, 0, n);
        return;
    }
    /* the word closed first (a claim still holding the last run's word fails), then the run's
     * fields, then the word opened and the counter workers poll (release: they see the fields) */
    id = (p->run + 1) & 0xFFFFFFFFu;
    __atomic_store_n(&p->work, id << 32 | 0x7FFFFFFFu, __ATOMIC_SEQ_CST);
    p->task = task;
    p->task_data = task_data;
    p->n = n;
    __atomic_store_n(&p->chunks, n < p->count ? n : p->count, __ATOMIC_RELAXED);
    __atomic_store_n(&p->finished, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->work, id << 32, __ATOMIC_RELEASE);
    __atomic_add_fetch(&p->run, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    fk_pool_work(p, id);
    for (spin = 0; spin < FK_POOL_SPIN && __atomic_load_n(&p->finished, __ATOMIC_ACQUIRE) < p->chunks; spin++) {
    }
    pthread_mutex_lock(&p->lock);
    while (__atomic_load_n(&p->finished, __ATOMIC_ACQUIRE) < p->chunks) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

#endif
