/*
 * hello-demo: the demo release's executable. Freestanding (no libc) so that each
 * architecture's static binary is a few kilobytes and runs anywhere, including
 * under qemu-user without a sysroot. Only two syscalls are needed: write and
 * exit_group, issued with each architecture's own calling convention.
 *
 *   hello-demo            prints a greeting naming the architecture it was built for
 *   hello-demo --version  prints "hello-demo VERSION"
 */

#ifndef DEMO_VERSION
#define DEMO_VERSION "1.0.0"
#endif

#if defined(__x86_64__)
#define DEMO_ARCH "x86_64"
static long sys3(long n, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
enum { SYS_WRITE = 1, SYS_EXIT_GROUP = 231 };
/* The kernel leaves argc at the stack pointer; hand it to C with a 16-byte aligned stack. */
__asm__(".text\n.globl _start\n_start:\n xor %rbp,%rbp\n mov %rsp,%rdi\n and $-16,%rsp\n call demo_main\n hlt\n");
#elif defined(__aarch64__)
#define DEMO_ARCH "aarch64"
static long sys3(long n, long a, long b, long c) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
enum { SYS_WRITE = 64, SYS_EXIT_GROUP = 94 };
__asm__(".text\n.globl _start\n_start:\n mov x29, #0\n mov x0, sp\n bl demo_main\n");
#elif defined(__arm__)
#define DEMO_ARCH "armv7 (hard-float)"
static long sys3(long n, long a, long b, long c) {
    register long r7 __asm__("r7") = n;
    register long r0 __asm__("r0") = a;
    register long r1 __asm__("r1") = b;
    register long r2 __asm__("r2") = c;
    __asm__ volatile("svc 0" : "+r"(r0) : "r"(r7), "r"(r1), "r"(r2) : "memory");
    return r0;
}
enum { SYS_WRITE = 4, SYS_EXIT_GROUP = 248 };
__asm__(".text\n.globl _start\n_start:\n mov fp, #0\n mov r0, sp\n bl demo_main\n");
#else
#error "hello-demo supports x86_64, aarch64 and armhf"
#endif

static unsigned long len(const char *s) {
    unsigned long n = 0;
    while (s[n]) n++;
    return n;
}

static void say(const char *s) { sys3(SYS_WRITE, 1, (long)s, (long)len(s)); }

static int same(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

__attribute__((used, noreturn)) void demo_main(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    if (argc > 1 && same(argv[1], "--version")) {
        say("hello-demo " DEMO_VERSION "\n");
    } else {
        say("Hello from a Debian package built by debian-multiarch-builder (" DEMO_ARCH ")\n");
    }
    sys3(SYS_EXIT_GROUP, 0, 0, 0);
    for (;;) {
    }
}
