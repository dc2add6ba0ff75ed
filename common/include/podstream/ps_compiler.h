/* ps_compiler: the compiler extensions podstream uses, behind macros that are empty
 * where the compiler lacks them (MSVC), so public headers stay plain C11. */
#ifndef PS_COMPILER_H
#define PS_COMPILER_H

/* Marks a printf-like function: argument `fmt` (1-based) is the format and the
 * values start at argument `args` (0 for a va_list). GCC and clang then check every
 * call's format against its arguments. MinGW's gcc needs gnu_printf: its plain
 * printf means the Microsoft runtime's, which knows no %zu or %lld. */
#if defined(__MINGW32__)
#define PS_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#elif defined(__GNUC__) || defined(__clang__)
#define PS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PS_PRINTF(fmt, args)
#endif

#endif
