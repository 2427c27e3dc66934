/*
 * worker.h: a fixed pool of threads for blocking work (fsync, rename,
 * password hashing, database writes, mailbox scans). FIFO; no priorities.
 * Connections use it through conn_job (net.h), which posts the
 * completion back to the right event loop.
 */
#ifndef FACTEUR_WORKER_H
#define FACTEUR_WORKER_H

struct worker_pool;

struct worker_pool *worker_pool_new(unsigned threads);
/* Queues fn(arg). Thread-safe. */
void worker_submit(struct worker_pool *pool, void (*fn)(void *arg),
    void *arg);
/* Runs what is queued to the end, then joins the threads and frees. */
void worker_pool_free(struct worker_pool **pool);

#endif
