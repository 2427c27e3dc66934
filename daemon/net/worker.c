#include <pthread.h>
#include <stdlib.h>

#include "lib/util.h"
#include "net/worker.h"

struct worker_job {
	void (*fn)(void *arg);
	void *arg;
	struct worker_job *next;
};

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct worker_job *head, *tail;
	bool stopping;
	unsigned nthreads;
	pthread_t *threads;
};

static void *
worker_main(void *p)
{
	struct worker_pool *pool = p;

	for (;;) {
		struct worker_job *job;

		pthread_mutex_lock(&pool->lock);
		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		job = pool->head;
		if (job == NULL) {
			/* stopping and nothing left */
			pthread_mutex_unlock(&pool->lock);
			return NULL;
		}
		pool->head = job->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->lock);
		job->fn(job->arg);
		free(job);
	}
}

struct worker_pool *
worker_pool_new(unsigned threads)
{
	struct worker_pool *pool = xcalloc(1, sizeof(*pool));

	if (threads == 0)
		threads = 1;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->nthreads = threads;
	pool->threads = xcalloc(threads, sizeof(pthread_t));
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&pool->threads[i], NULL, worker_main,
		    pool) != 0)
			fatal("cannot start worker thread");
	}
	return pool;
}

void
worker_submit(struct worker_pool *pool, void (*fn)(void *arg), void *arg)
{
	struct worker_job *job = xmalloc(sizeof(*job));

	job->fn = fn;
	job->arg = arg;
	job->next = NULL;
	pthread_mutex_lock(&pool->lock);
	if (pool->tail != NULL)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

void
worker_pool_free(struct worker_pool **poolp)
{
	struct worker_pool *pool = *poolp;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool);
	*poolp = NULL;
}
