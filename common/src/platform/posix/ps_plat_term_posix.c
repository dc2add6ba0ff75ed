/* The terminal on POSIX: hidden input and its size. */
#include "podstream/ps_platform.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* Terminal settings to put back when a signal ends the process at a hidden prompt;
 * otherwise Ctrl-C would leave the admin's terminal with echo off. */
static struct termios secret_tty_saved;
static const int secret_tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define SECRET_TTY_NSIG (sizeof secret_tty_signals / sizeof secret_tty_signals[0])

static void secret_tty_restore_and_reraise(int sig)
{
    /* SA_RESETHAND restored the default action; the re-raised signal is delivered
     * once this handler returns. Both calls are async-signal-safe. */
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &secret_tty_saved);
    raise(sig);
}

ps_err ps_plat_read_secret_line(const char *prompt, char *buf, size_t len, ps_errmsg *em)
{
    struct termios old, quiet;
    struct sigaction prev[SECRET_TTY_NSIG];
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    ps_err err = PS_OK;
    size_t n = 0;

    if (tty) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = secret_tty_restore_and_reraise;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        secret_tty_saved = old;
        for (size_t i = 0; i < SECRET_TTY_NSIG; i++)
            sigaction(secret_tty_signals[i], &sa, &prev[i]);
        /* Echo off before the prompt, as getpass() does: TCSAFLUSH discards typeahead,
         * so input sent as soon as the prompt shows would otherwise be lost. */
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
    }
    for (;;) {
        char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = ps_errmsg_set(em, PS_ERR_IO, "cannot read standard input: %s", strerror(errno));
            break;
        }
        if (r == 0 || c == '\n')
            break;
        if (n + 1 >= len) {
            err = ps_errmsg_set(em, PS_ERR_RANGE, "input longer than %zu bytes", len - 1);
            break;
        }
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        for (size_t i = 0; i < SECRET_TTY_NSIG; i++)
            sigaction(secret_tty_signals[i], &prev[i], NULL);
        fputc('\n', stderr);
    }
    if (err != PS_OK)
        ps_plat_wipe(buf, len);
    return err;
}

bool ps_plat_stdin_is_terminal(void)
{
    return isatty(STDIN_FILENO) == 1;
}

int ps_plat_terminal_columns(FILE *stream)
{
    struct winsize ws;
    int fd = stream ? fileno(stream) : -1;
    if (fd < 0 || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0)
        return 0;
    return ws.ws_col;
}
