/* Threads, mutexes and monotonic condition variables on pthreads. */
#include "podstream/ps_platform.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ps_thread {
    pthread_t id;
};

struct ps_mutex {
    pthread_mutex_t mu;
};

struct ps_cond {
    pthread_cond_t cv;
};

ps_err ps_plat_thread_create(ps_thread **out, const char *name, ps_thread_fn fn, void *arg)
{
    ps_thread *t = calloc(1, sizeof *t);

    *out = NULL;
    if (!t)
        return PS_ERR_NOMEM;
    if (pthread_create(&t->id, NULL, fn, arg) != 0) {
        free(t);
        return PS_ERR_INTERNAL;
    }
#ifdef __GLIBC__
    if (name) {
        char shortname[16];
        snprintf(shortname, sizeof shortname, "%s", name);
        (void)pthread_setname_np(t->id, shortname);
    }
#else
    (void)name;
#endif
    *out = t;
    return PS_OK;
}

void *ps_plat_thread_join(ps_thread *t)
{
    void *ret = NULL;

    if (!t)
        return NULL;
    (void)pthread_join(t->id, &ret);
    free(t);
    return ret;
}

ps_err ps_plat_mutex_create(ps_mutex **out)
{
    ps_mutex *m = calloc(1, sizeof *m);

    *out = NULL;
    if (!m)
        return PS_ERR_NOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return PS_ERR_INTERNAL;
    }
    *out = m;
    return PS_OK;
}

void ps_plat_mutex_destroy(ps_mutex *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void ps_plat_mutex_lock(ps_mutex *m)
{
    pthread_mutex_lock(&m->mu);
}

void ps_plat_mutex_unlock(ps_mutex *m)
{
    pthread_mutex_unlock(&m->mu);
}

ps_err ps_plat_cond_create(ps_cond **out)
{
    ps_cond *c = calloc(1, sizeof *c);
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    if (!c)
        return PS_ERR_NOMEM;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        free(c);
        return PS_ERR_INTERNAL;
    }
    *out = c;
    return PS_OK;
}

void ps_plat_cond_destroy(ps_cond *c)
{
    if (!c)
        return;
    pthread_cond_destroy(&c->cv);
    free(c);
}

void ps_plat_cond_wait(ps_cond *c, ps_mutex *m)
{
    pthread_cond_wait(&c->cv, &m->mu);
}

bool ps_plat_cond_wait_until(ps_cond *c, ps_mutex *m, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};

    return pthread_cond_timedwait(&c->cv, &m->mu, &ts) == 0;
}

void ps_plat_cond_signal(ps_cond *c)
{
    pthread_cond_signal(&c->cv);
}

void ps_plat_cond_broadcast(ps_cond *c)
{
    pthread_cond_broadcast(&c->cv);
}
