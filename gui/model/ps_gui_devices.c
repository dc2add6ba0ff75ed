/* The Devices page's model: configured devices joined with the live counters. */
#include "ps_gui_devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_loader.h"
#include "ps_gui_outputs.h"

typedef struct conf_dev {
    long long id;
    char name[128];
    ps_data_type type;
    bool enabled;
} conf_dev;

struct ps_gui_devices {
    conf_dev *conf;
    size_t nconf;
    char *db_path;
    ps_diag diag;
    ps_store *st; /* the reader; used by one worker at a time */
};

const char *ps_gui_service_name(ps_gui_service s)
{
    switch (s) {
    case PS_GUI_SERVICE_NO_DATABASE:
        return "no database";
    case PS_GUI_SERVICE_STOPPED:
        return "not running";
    case PS_GUI_SERVICE_RUNNING:
        return "running";
    }
    return "?";
}

void ps_gui_snapshot_destroy(ps_gui_snapshot *s)
{
    if (!s)
        return;
    free(s->v);
    free(s->outs);
    free(s);
}

/* Keeps what the page needs of the configured devices, so the config can go. */
static ps_err keep_devices(ps_gui_devices *d, const ps_config *cfg)
{
    if (!cfg || cfg->ndevices == 0)
        return PS_OK;
    d->conf = calloc(cfg->ndevices, sizeof *d->conf);
    if (!d->conf)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const ps_device *dev = &cfg->devices[i];
        conf_dev *c = &d->conf[d->nconf++];
        c->id = dev->id;
        snprintf(c->name, sizeof c->name, "%s", dev->name ? dev->name : "");
        c->type = dev->props.type;
        c->enabled = dev->status;
    }
    return PS_OK;
}

ps_err ps_gui_devices_create(const char *config_dir, const char *db_path, ps_gui_devices **out,
                             ps_errmsg *em)
{
    ps_gui_devices *d = calloc(1, sizeof *d);
    ps_config *cfg = NULL;
    ps_pipeline_set *pipes = NULL;
    ps_err err;
    *out = NULL;
    if (!d)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    ps_diag_init(&d->diag);
    err = ps_loader_load(config_dir, 0, &cfg, &pipes, &d->diag);
    if (err == PS_ERR_INVALID) {
        /* A configuration with a mistake still lists the devices that loaded; its
         * problems are those the loader found above. */
        ps_diag scratch;
        ps_diag_init(&scratch);
        err = ps_config_load_partial(config_dir, &cfg, &scratch);
        ps_diag_deinit(&scratch);
    }
    if (err == PS_ERR_NOMEM) {
        err = ps_errmsg_set(em, err, "out of memory");
        goto out;
    }
    if (!cfg && !db_path) {
        err = ps_errmsg_set(em, PS_ERR_NOTFOUND,
                            "configuration directory %s cannot be read; pass -c DIR, or --db "
                            "PATH to name the database",
                            config_dir);
        goto out;
    }
    if (keep_devices(d, cfg) != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (db_path)
        d->db_path = strdup(db_path);
    else if (cfg && cfg->service.database)
        d->db_path = strdup(cfg->service.database);
    err = PS_OK;
    *out = d;
    d = NULL;
out:
    ps_config_destroy(cfg);
    ps_pipeline_set_destroy(pipes);
    ps_gui_devices_destroy(d);
    return err;
}

void ps_gui_devices_destroy(ps_gui_devices *d)
{
    if (!d)
        return;
    ps_store_destroy(d->st);
    ps_diag_deinit(&d->diag);
    free(d->conf);
    free(d->db_path);
    free(d);
}

const char *ps_gui_devices_db_path(const ps_gui_devices *d)
{
    return d->db_path;
}

const ps_diag *ps_gui_devices_diag(const ps_gui_devices *d)
{
    return &d->diag;
}

static void fill_counters(ps_gui_device *g, const ps_device_counters *c, int64_t now_us)
{
    g->has_counters = true;
    g->c = *c;
    g->stale = now_us - c->updated_us > PS_GUI_STALE_US;
}

/* Joins configured devices (in their order) with counter rows; a counter row of a
 * device no longer configured is kept after them, so its history stays visible. */
static ps_err merge(const ps_gui_devices *d, const ps_device_counters *c, size_t nc, int64_t now_us,
                    ps_gui_snapshot *s)
{
    s->v = calloc(d->nconf + nc + 1, sizeof *s->v);
    if (!s->v)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < d->nconf; i++) {
        ps_gui_device *g = &s->v[s->n++];
        g->id = d->conf[i].id;
        memcpy(g->name, d->conf[i].name, sizeof g->name);
        g->type = d->conf[i].type;
        g->in_config = true;
        g->enabled = d->conf[i].enabled;
        for (size_t j = 0; j < nc; j++)
            if (c[j].device_id == g->id)
                fill_counters(g, &c[j], now_us);
    }
    for (size_t j = 0; j < nc; j++) {
        bool known = false;
        for (size_t i = 0; i < d->nconf; i++)
            known = known || d->conf[i].id == c[j].device_id;
        if (known)
            continue;
        ps_gui_device *g = &s->v[s->n++];
        g->id = c[j].device_id;
        memcpy(g->name, c[j].name, sizeof g->name);
        g->type = c[j].type;
        fill_counters(g, &c[j], now_us);
    }
    return PS_OK;
}

static ps_gui_service service_state(const ps_device_counters *c, size_t nc, int64_t now_us)
{
    for (size_t i = 0; i < nc; i++)
        if (now_us - c[i].updated_us <= PS_GUI_STALE_US)
            return PS_GUI_SERVICE_RUNNING;
    return PS_GUI_SERVICE_STOPPED;
}

/* The hourly counts of the last PS_GUI_HOURS hours onto the snapshot's devices. A
 * failure leaves them at 0: the counters matter more than the chart. */
static void add_hourly(ps_gui_devices *d, ps_gui_snapshot *s)
{
    ps_hourly_count *h = NULL;
    size_t nh = 0;
    ps_errmsg em;
    s->first_hour_us =
        s->taken_us - s->taken_us % PS_GUI_HOUR_US - (PS_GUI_HOURS - 1) * PS_GUI_HOUR_US;
    if (!d->st || ps_store_hourly_list(d->st, s->first_hour_us, &h, &nh, &em) != PS_OK)
        return;
    for (size_t i = 0; i < nh; i++) {
        int64_t slot = (h[i].hour_us - s->first_hour_us) / PS_GUI_HOUR_US;
        for (size_t k = 0; k < s->n && slot >= 0 && slot < PS_GUI_HOURS; k++)
            if (s->v[k].id == h[i].device_id)
                s->v[k].hourly[slot] += h[i].events;
    }
    free(h);
}

ps_err ps_gui_devices_refresh(ps_gui_devices *d, int64_t now_us, ps_gui_snapshot **out,
                              ps_errmsg *em)
{
    ps_gui_snapshot *s = calloc(1, sizeof *s);
    ps_device_counters *c = NULL;
    size_t nc = 0;
    ps_errmsg dbm;
    ps_err err;
    *out = NULL;
    if (!s)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    s->taken_us = now_us;
    s->service = PS_GUI_SERVICE_NO_DATABASE;
    dbm.text[0] = '\0';
    if (!d->db_path)
        snprintf(dbm.text, sizeof dbm.text, "no database is configured");
    else if (!d->st && ps_store_create(d->db_path, PS_STORE_READER, &d->st, &dbm) != PS_OK)
        d->st = NULL;
    if (d->st && ps_store_counters_list(d->st, &c, &nc, &dbm) != PS_OK) {
        /* Reopen next time: the file may have been replaced (podstream repair). */
        ps_store_destroy(d->st);
        d->st = NULL;
    }
    if (d->st)
        s->service = service_state(c, nc, now_us);
    else
        snprintf(s->error, sizeof s->error, "%s", dbm.text);
    if ((err = merge(d, c, nc, now_us, s)) != PS_OK) {
        err = ps_errmsg_set(em, err, "out of memory");
        goto out;
    }
    add_hourly(d, s);
    /* Like the chart: without it only the line beside Save goes without news. */
    if (d->st && ps_store_reload_get(d->st, &s->reload, &dbm) != PS_OK)
        memset(&s->reload, 0, sizeof s->reload);
    /* Like the chart again: a database of an older version has no outputs table. */
    if (ps_gui_outputs_read(d->st, s, &dbm) != PS_OK)
        s->nouts = 0;
    *out = s;
    s = NULL;
out:
    free(c);
    ps_gui_snapshot_destroy(s);
    return err;
}
