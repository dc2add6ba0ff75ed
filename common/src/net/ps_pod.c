#include "net/ps_pod.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podstream/ps_platform.h"

ps_pod_action ps_pod_status_action(long http_status)
{
    switch (http_status) {
    case 401:
        return PS_POD_UNAUTHORISED;
    case 400:
    case 404:
    case 405:
        return PS_POD_FATAL;
    case 409:
        return PS_POD_CONFLICT;
    default:
        return PS_POD_BACKOFF;
    }
}

const char *ps_pod_status_hint(long http_status)
{
    switch (http_status) {
    case 400:
        return "bad cluster, type or time parameters";
    case 404:
        return "wrong endpoint URL";
    case 405:
        return "method not allowed";
    default:
        return NULL;
    }
}

void ps_pod_format_time(int64_t us, char *buf, size_t len)
{
    struct tm tm;
    int64_t secs = us / 1000000;
    if (us < 0 && us % 1000000)
        secs--; /* before 1970, round down as a clock does */
    if (!ps_plat_gmtime(secs, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%S.000-0000", &tm) == 0) {
        if (len > 0)
            buf[0] = '\0';
    }
}

int64_t ps_pod_hour_floor(int64_t us)
{
    return us - (us % PS_POD_US_PER_HOUR + PS_POD_US_PER_HOUR) % PS_POD_US_PER_HOUR;
}

int64_t ps_pod_hour_ceil(int64_t us)
{
    int64_t f = ps_pod_hour_floor(us);
    return f == us ? us : f + PS_POD_US_PER_HOUR;
}

bool ps_pod_archive_window(int64_t from_us, int64_t to_us, int64_t now_us, int64_t *since_us,
                           int64_t *until_us)
{
    int64_t reach = ps_pod_hour_ceil(now_us - PS_POD_ARCHIVE_REACH_US);
    bool whole = true;
    *since_us = ps_pod_hour_floor(from_us);
    if (*since_us < reach) {
        *since_us = reach;
        whole = false;
    }
    *until_us = ps_pod_hour_ceil(to_us);
    if (*until_us <= *since_us)
        *until_us = *since_us + PS_POD_US_PER_HOUR;
    return whole;
}

char *ps_pod_stream_url(const char *endpoint, const char *cluster, const char *type,
                        int64_t since_us, int64_t to_us)
{
    char since[PS_POD_TIME_LEN] = "", to[PS_POD_TIME_LEN] = "";
    char *cid = curl_easy_escape(NULL, cluster, 0);
    char *etype = curl_easy_escape(NULL, type, 0);
    char *esince = NULL, *eto = NULL, *url = NULL;
    size_t n;

    if (!cid || !etype)
        goto out;
    if (since_us) {
        ps_pod_format_time(since_us, since, sizeof since);
        ps_pod_format_time(to_us, to, sizeof to);
        esince = curl_easy_escape(NULL, since, 0);
        eto = curl_easy_escape(NULL, to, 0);
        if (!esince || !eto)
            goto out;
    }
    n = strlen(endpoint) + strlen(cid) + strlen(etype) + 128;
    url = malloc(n);
    if (!url)
        goto out;
    snprintf(url, n, "%s%ccid=%s&type=%s%s%s%s%s", endpoint, strchr(endpoint, '?') ? '&' : '?', cid,
             etype, since_us ? "&sinceTime=" : "", since_us ? esince : "",
             since_us ? "&toTime=" : "", since_us ? eto : "");
out:
    curl_free(cid);
    curl_free(etype);
    curl_free(esince);
    curl_free(eto);
    return url;
}
