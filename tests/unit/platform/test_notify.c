/* ps_plat_svc_notify and ps_plat_svc_watchdog_ms against a real datagram socket, as
 * systemd listens on it: a path and an abstract name ('@'). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "podstream/ps_platform.h"

/* Binds a datagram socket to `name` (a path, or '@' for an abstract name) and
 * points NOTIFY_SOCKET at it. */
static int listen_on(const char *name)
{
    struct sockaddr_un sa;
    size_t len = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    else
        len++;
    assert_int_equal(
        bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
        0);
    setenv("NOTIFY_SOCKET", name, 1);
    return fd;
}

static void receive(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
}

static void test_path_socket(void **state)
{
    char path[64], buf[512];
    int fd;
    (void)state;
    snprintf(path, sizeof path, "/tmp/ps-notify-%ld.sock", (long)getpid());
    unlink(path);
    fd = listen_on(path);

    assert_true(ps_plat_svc_notify(PS_SVC_READY, "2 of 2 device(s) live"));
    receive(fd, buf, sizeof buf);
    assert_string_equal(buf, "READY=1\nSTATUS=2 of 2 device(s) live\n");

    assert_true(ps_plat_svc_notify(PS_SVC_STOPPING, NULL));
    receive(fd, buf, sizeof buf);
    assert_string_equal(buf, "STOPPING=1\n");

    assert_true(ps_plat_svc_notify(PS_SVC_WATCHDOG, NULL));
    receive(fd, buf, sizeof buf);
    assert_string_equal(buf, "WATCHDOG=1\n");

    /* The status is one line, whatever it was given. */
    assert_true(ps_plat_svc_notify(PS_SVC_STATUS, "two\nlines"));
    receive(fd, buf, sizeof buf);
    assert_string_equal(buf, "STATUS=two lines\n");

    /* ... and at most 200 bytes. */
    {
        char longer[301];
        memset(longer, 'x', 300);
        longer[300] = '\0';
        assert_true(ps_plat_svc_notify(PS_SVC_READY, longer));
        receive(fd, buf, sizeof buf);
        assert_int_equal(strlen(buf), strlen("READY=1\nSTATUS=\n") + 200);
    }
    close(fd);
    unlink(path);
    unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket_and_reload(void **state)
{
    char name[64], buf[512];
    long long mono = 0;
    int fd;
    (void)state;
    snprintf(name, sizeof name, "@ps-notify-test-%ld", (long)getpid());
    fd = listen_on(name);

    assert_true(ps_plat_svc_notify(PS_SVC_RELOADING, NULL));
    receive(fd, buf, sizeof buf);
    /* systemd 253 wants the monotonic time of the reload with RELOADING=1. */
    assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%lld\n", &mono), 1);
    assert_true(mono > 0);
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

static void test_no_manager(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_false(ps_plat_svc_notify(PS_SVC_READY, "x"));
    setenv("NOTIFY_SOCKET", "relative/not/allowed", 1);
    assert_false(ps_plat_svc_notify(PS_SVC_READY, NULL));
    unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_interval(void **state)
{
    char pid[32];
    (void)state;
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "3000000", 1);
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(ps_plat_svc_watchdog_ms(), 0); /* no one to tell */
    setenv("NOTIFY_SOCKET", "@x", 1);
    assert_int_equal(ps_plat_svc_watchdog_ms(), 3000);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(ps_plat_svc_watchdog_ms(), 3000);
    /* A watchdog meant for another process is not ours to feed. */
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(ps_plat_svc_watchdog_ms(), 0);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "soon", 1);
    assert_int_equal(ps_plat_svc_watchdog_ms(), 0);
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(ps_plat_svc_watchdog_ms(), 0);
    unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_socket),
        cmocka_unit_test(test_abstract_socket_and_reload),
        cmocka_unit_test(test_no_manager),
        cmocka_unit_test(test_watchdog_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
