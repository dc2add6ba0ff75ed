#!/usr/bin/env python3
"""Platform rule (issue #10): operating-system headers and POSIX-only calls live in
common/src/platform/ only. Everything else in common/ and service/ is portable C11
plus the libraries podstream links (curl, sqlite, zstd, ...), so the Windows build
needs a new platform/win32/ and nothing else.

Usage: check-platform.py [--root DIR] [--mingw CC [--cjson DIR]]
  --mingw CC   also compile every public header (common/include/podstream/*.h) with
               the MinGW-w64 compiler CC (-fsyntax-only -std=c11), proving that the
               public API builds for Windows. The full sources cannot be checked
               that way yet: there are no MinGW builds of curl, SQLite, libyaml,
               zstd and friends on the build machines.
  --cjson DIR  the directory holding cJSON.h, which public headers include as
               <cjson/cJSON.h>; that header is plain portable C, so the host's copy
               stands in for the Windows one.

Known violations that are being removed are listed, per file and name, in
scripts/check-platform.allow; anything else fails. Exits 1 and names file:line
for every violation."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

# Headers that only POSIX systems have.
FORBIDDEN_INCLUDE = re.compile(
    r'^\s*#\s*include\s*<(pthread|poll|threads|iconv|dirent|fcntl|unistd|signal|termios|'
    r'getopt|netdb|dlfcn|syslog|pwd|grp|spawn|semaphore|sched|libgen|langinfo|'
    r'sys/[\w/]+|arpa/\w+|netinet/\w+)\.h>')

# Functions of POSIX (or glibc) that Windows lacks or spells differently. A call is
# the name followed by "(", not preceded by a member access or an identifier
# character, outside comments and string literals.
FORBIDDEN_CALLS = [
    # threads and signals
    r'pthread_\w+', r'thrd_\w+', r'mtx_\w+', r'cnd_\w+', r'call_once', r'tss_\w+',
    'sigaction', 'sigemptyset', 'sigaddset', 'sigprocmask', 'sigwait', 'sigwaitinfo',
    'sigtimedwait', 'signal', 'raise', 'kill', 'alarm', 'pause',
    # files and descriptors
    'open', 'openat', 'close', 'read', 'write', 'readv', 'writev', 'pread', 'pwrite', 'lseek',
    'fsync', 'fdatasync', 'ftruncate', 'truncate', 'unlink', 'link', 'symlink', 'readlink',
    'opendir', 'readdir', 'closedir', 'stat', 'fstat', 'lstat', 'mkdir', 'rmdir', 'chmod',
    'fchmod', 'chown', 'access', 'getcwd', 'chdir', 'realpath', 'mkstemp', 'mkostemp',
    'mkdtemp', 'flock', 'fcntl', 'dup', 'dup2', 'pipe', 'fileno', 'fdopen', 'isatty',
    'tcgetattr', 'tcsetattr', 'ioctl',
    # processes, sockets, time, text
    'fork', 'execv', 'execvp', 'execl', 'execlp', 'waitpid', 'getpid', 'getppid', 'getuid',
    'geteuid', 'setsid', 'poll', 'select', 'epoll_\\w+', 'socket', 'socketpair', 'nanosleep',
    'usleep', 'sleep', 'clock_gettime', 'gettimeofday', 'localtime_r', 'gmtime_r',
    'iconv_open', 'iconv', 'iconv_close', 'getrandom', 'explicit_bzero', 'malloc_trim',
    'getopt', 'getopt_long', 'syslog', 'dlopen', 'dlsym',
    # GNU extensions to the C library that Windows' runtime lacks
    'memmem', 'memrchr', 'mempcpy', 'strndup', 'strcasestr', 'strchrnul', 'strsep', 'getline',
    'reallocarray', 'qsort_r',
]
CALL = re.compile(r'(?<![\w.>])(' + '|'.join(FORBIDDEN_CALLS) + r')\s*\(')

# GCC syntax belongs behind podstream/ps_compiler.h's macros.
ATTRIBUTE = re.compile(r'__attribute__\s*\(\(')

SCANNED = ('common', 'service', 'gui', 'tray')
EXEMPT_DIR = os.path.join('common', 'src', 'platform') + os.sep
# podstream-tray.exe's window (issue #18) is Win32 through and through, built only for
# Windows; its logic (tray/*.c) is portable and checked like the rest.
EXEMPT_TRAY_DIR = os.path.join('tray', 'win32') + os.sep
EXEMPT_FILES = {os.path.join('common', 'include', 'podstream', 'ps_compiler.h')}


def strip_comments_and_strings(text):
    """Blanks out comments and string/char literals, keeping line numbers."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(c + ' ' * max(0, j - i - 2) + (c if j - i >= 2 else ''))
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def sources(root):
    for top in SCANNED:
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    full = os.path.join(d, f)
                    rel = os.path.relpath(full, root)
                    if (not rel.startswith((EXEMPT_DIR, EXEMPT_TRAY_DIR))
                            and rel not in EXEMPT_FILES):
                        yield rel, full


def load_allow(root):
    """{(path, name)}: name is a header ("pthread.h"), a call ("nanosleep"), a call
    prefix ("pthread_*") or "__attribute__"."""
    allow = set()
    path = os.path.join(root, 'scripts', 'check-platform.allow')
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                line = line.split('#', 1)[0].strip()
                if line:
                    f, name = line.split(':', 1)
                    allow.add((f.strip(), name.strip()))
    return allow


def allowed(allow, used, rel, name):
    for key in ((rel, name), (rel, re.sub(r'_\w+$', '_*', name))):
        if key in allow:
            used.add(key)
            return True
    return False


def check_sources(root):
    allow = load_allow(root)
    used = set()
    problems = []
    for rel, full in sources(root):
        with open(full, encoding='utf-8', errors='replace') as fh:
            raw = fh.read()
        for no, line in enumerate(raw.split('\n'), 1):
            m = FORBIDDEN_INCLUDE.match(line)
            if m and not allowed(allow, used, rel, m.group(1) + '.h'):
                problems.append(f'{rel}:{no}: <{m.group(1)}.h> belongs in common/src/platform/')
        code = strip_comments_and_strings(raw)
        for no, line in enumerate(code.split('\n'), 1):
            if line.lstrip().startswith('#'):
                continue  # includes are checked above; macros name no calls here
            for m in CALL.finditer(line):
                if allowed(allow, used, rel, m.group(1)):
                    continue
                problems.append(f'{rel}:{no}: {m.group(1)}() is POSIX-only; use or add a '
                                f'ps_plat_ function (podstream/ps_platform.h)')
            if ATTRIBUTE.search(line) and not allowed(allow, used, rel, '__attribute__'):
                problems.append(f'{rel}:{no}: __attribute__ is GCC-only; use a macro of '
                                f'podstream/ps_compiler.h')
    for f, name in sorted(allow - used):
        print(f'check-platform: note: {f}: {name} is allowed but no longer used; '
              f'remove it from scripts/check-platform.allow')
    return problems


def check_mingw(root, cc, cjson):
    """Each public header on its own, as a Windows program would include it."""
    problems = []
    inc = os.path.join(root, 'common', 'include')
    hdr_dir = os.path.join(inc, 'podstream')
    with tempfile.TemporaryDirectory() as tmp:
        extra = []
        if cjson:
            # Only cJSON from the host: a whole host include directory would bring
            # glibc's headers in place of MinGW's.
            os.symlink(os.path.abspath(cjson), os.path.join(tmp, 'cjson'))
            extra = ['-I', tmp]
        for h in sorted(os.listdir(hdr_dir)):
            if not h.endswith('.h'):
                continue
            src = os.path.join(tmp, 'use.c')
            with open(src, 'w') as fh:
                fh.write(f'#include "podstream/{h}"\n')
            r = subprocess.run([cc, '-fsyntax-only', '-std=c11', '-Wall', '-Wextra', '-Werror',
                                '-Wstrict-prototypes', '-I', inc] + extra + [src],
                               capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f'common/include/podstream/{h}: does not compile for Windows '
                                f'with {cc}:\n{r.stderr.strip()}')
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', default=os.path.join(os.path.dirname(__file__), '..'))
    ap.add_argument('--mingw', metavar='CC')
    ap.add_argument('--cjson', metavar='DIR')
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    problems = check_sources(root)
    if args.mingw:
        problems += check_mingw(root, args.mingw, args.cjson)
    for p in problems:
        print(p)
    what = 'sources' + (' and public headers for Windows' if args.mingw else '')
    if problems:
        print(f'check-platform: {len(problems)} problem(s) in {what}')
        return 1
    print(f'check-platform: ok ({what})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
