/*
 * cobol-call-host: keeps one COBOL subprogram warm for bootstrap-sdk's call mode.
 *
 *     cobol-call-host ENTRY fresh|kept
 *
 * make-runtime-layer compiles this file against the libcob it bundles. The runtime
 * starts it at init and speaks a binary protocol with it on two pipes (fd 3: requests
 * in, fd 4: replies out), so that records holding COMP-3 and binary fields travel as
 * they are; stdout and stderr stay the program's, and the runtime logs them. The
 * frames are described, and read, in bootstrap_sdk/adapter/cobol_call.py.
 *
 * Why a process of its own: a subprogram that crashes (SIGSEGV), stops on a libcob
 * runtime error or executes STOP RUN ends this process, never the runtime, which
 * answers that invoke with an error and starts a fresh host for the next one.
 *
 * Each USING parameter's buffer ends where a PROT_NONE page starts: a program whose
 * LINKAGE record is longer than its copybook faults on the first byte past it, and the
 * reply says which parameter and which byte, rather than corrupting the next buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libcob.h> /* after the C headers: it uses size_t without including them */

#define REQUEST_FD 3
#define REPLY_FD 4
#define SETUP_MAGIC 0x53435342u   /* "BSCS" */
#define REQUEST_MAGIC 0x51435342u /* "BSCQ" */
#define REPLY_MAGIC 0x52435342u   /* "BSCR" */
#define MAX_PARAMS 64
#define MAX_DIR 4096
#define MAX_ENV 65536

enum { READY = 0, RETURNED = 1, INIT_FAILED = 2, EXITED = 3, OVERRUN = 4, BAD_REQUEST = 5 };

struct reply_header {
    uint32_t magic;
    uint32_t kind;
    int32_t code;     /* RETURN-CODE (RETURNED), the parameter's index (OVERRUN) */
    uint32_t detail;  /* the byte's offset in the parameter (OVERRUN) */
    uint64_t call_ns; /* how long the CALL itself took (RETURNED) */
    uint32_t message_length;
    uint32_t data_length;
};

struct setup_header {
    uint32_t magic;
    uint32_t count; /* then count sizes, u32 each */
};

struct request_header {
    uint32_t magic;
    uint32_t dir_length;
    uint32_t env_length;
    uint32_t data_length;
};

static const char *entry;
static int keep_state;
static int count;
static size_t sizes[MAX_PARAMS];
static unsigned char *buffers[MAX_PARAMS];
static unsigned char *guards[MAX_PARAMS];
static size_t page;
static size_t total;
static volatile sig_atomic_t in_call;
static char **initial_environment; /* as the host started: each invoke starts from it */
static char runtime_error[2048];

static int write_all(int fd, const void *data, size_t length)
{
    const char *p = data;
    while (length > 0) {
        ssize_t n = write(fd, p, length);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        length -= (size_t)n;
    }
    return 0;
}

/* 1: read it all; 0: end of file before the first byte; -1: error or a cut frame. */
static int read_all(int fd, void *data, size_t length)
{
    char *p = data;
    size_t done = 0;
    while (done < length) {
        ssize_t n = read(fd, p + done, length - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            return done == 0 ? 0 : -1;
        done += (size_t)n;
    }
    return 1;
}

/* One frame, in one writev when it fits the pipe (the runtime wakes once, not per part);
   async-signal-safe (writev(2) and write(2) only), so the fault handler can send one. */
static void reply(uint32_t kind, int32_t code, uint32_t detail, uint64_t call_ns, const char *message,
                  unsigned char *const *data)
{
    struct reply_header header;
    struct iovec parts[MAX_PARAMS + 2];
    size_t message_length = 0, length = 0;
    ssize_t written;
    int i, n = 0;

    if (message != NULL)
        while (message[message_length] != '\0')
            message_length++;
    header.magic = REPLY_MAGIC;
    header.kind = kind;
    header.code = code;
    header.detail = detail;
    header.call_ns = call_ns;
    header.message_length = (uint32_t)message_length;
    header.data_length = data != NULL ? (uint32_t)total : 0;
    parts[n].iov_base = &header;
    parts[n++].iov_len = sizeof header;
    if (message_length > 0) {
        parts[n].iov_base = (void *)message;
        parts[n++].iov_len = message_length;
    }
    if (data != NULL)
        for (i = 0; i < count; i++) {
            parts[n].iov_base = data[i];
            parts[n++].iov_len = sizes[i];
        }
    for (i = 0; i < n; i++)
        length += parts[i].iov_len;
    do
        written = writev(REPLY_FD, parts, n);
    while (written < 0 && errno == EINTR);
    if (written < 0 || (size_t)written == length)
        return;
    /* A short write (a frame larger than the pipe): the rest, part by part. */
    for (i = 0; i < n; i++) {
        size_t skip = (size_t)written < parts[i].iov_len ? (size_t)written : parts[i].iov_len;
        written -= (ssize_t)skip;
        if (write_all(REPLY_FD, (char *)parts[i].iov_base + skip, parts[i].iov_len - skip) != 0)
            return;
    }
}

/* libcob calls this (CBL_ERROR_PROC) with a runtime error's text before it ends the process. */
static int on_runtime_error(char *message)
{
    if (in_call && message != NULL)
        snprintf(runtime_error, sizeof runtime_error, "%s", message);
    return 1; /* and let libcob print it to stderr as usual */
}

/* The process is exiting while the subprogram runs: STOP RUN, a runtime error, or exit(). */
static void on_exit_during_call(void)
{
    if (in_call) {
        in_call = 0;
        fflush(stdout);
        reply(EXITED, 0, 0, 0, runtime_error, NULL);
    }
}

static void on_fault(int signal_number, siginfo_t *info, void *context)
{
    uintptr_t address = (uintptr_t)info->si_addr;
    int i;

    (void)context;
    if (in_call) {
        for (i = 0; i < count; i++) {
            uintptr_t guard = (uintptr_t)guards[i];
            if (address >= guard && address < guard + page) {
                in_call = 0;
                reply(OVERRUN, i, (uint32_t)(address - (uintptr_t)buffers[i]), 0, NULL, NULL);
                break;
            }
        }
        in_call = 0; /* no EXITED frame: the runtime reads the signal from the exit status */
    }
    /* Default action, then return: the faulting instruction runs again and the kernel
       ends the process with the signal, which is what the runtime reports. */
    signal(signal_number, SIG_DFL);
}

static void default_signals(void)
{
    static char alternate_stack[65536];
    stack_t stack;
    struct sigaction action;
    int fatal[] = {SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE};
    size_t i;

    /* libcob's handlers turn a signal into exit(code), which would hide it: undo them. */
    for (i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], SIG_DFL);
    stack.ss_sp = alternate_stack;
    stack.ss_size = sizeof alternate_stack;
    stack.ss_flags = 0;
    sigaltstack(&stack, NULL); /* a runaway recursion still reaches the handler */
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, NULL);
}

/* The parameters' sizes: sent once the runtime has read the copybooks, which it does
   while this process loads libcob and resolves the entry. */
static int read_setup(void)
{
    struct setup_header header;
    uint32_t given[MAX_PARAMS];
    int i;

    if (read_all(REQUEST_FD, &header, sizeof header) != 1 || header.magic != SETUP_MAGIC || header.count == 0 ||
        header.count > MAX_PARAMS || read_all(REQUEST_FD, given, header.count * sizeof given[0]) != 1)
        return -1;
    count = (int)header.count;
    for (i = 0; i < count; i++) {
        if (given[i] == 0 || given[i] > 64u * 1024 * 1024)
            return -1;
        sizes[i] = given[i];
    }
    return 0;
}

static int allocate_buffers(void)
{
    int i;

    page = (size_t)sysconf(_SC_PAGESIZE);
    for (i = 0; i < count; i++) {
        size_t pages = (sizes[i] + page - 1) / page;
        unsigned char *base = mmap(NULL, (pages + 1) * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                   -1, 0);
        if (base == MAP_FAILED)
            return -1;
        guards[i] = base + pages * page;
        if (mprotect(guards[i], page, PROT_NONE) != 0)
            return -1;
        buffers[i] = guards[i] - sizes[i];
        total += sizes[i];
    }
    return 0;
}

/* End what the subprogram started (CALL 'SYSTEM' and the like): its children are this
   invoke's. Their own orphans go to the runtime, which reaps and ends them. */
static void end_children(void)
{
    static int children = -2; /* this process's children list, opened once and re-read */
    char list[4096];
    int round;

    if (children == -2) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
        children = open(path, O_RDONLY | O_CLOEXEC);
    }
    for (round = 0; round < 64; round++) {
        ssize_t length = children >= 0 ? pread(children, list, sizeof list - 1, 0) : -1;
        char *at = list, *end;
        int found = 0;
        if (length <= 0)
            return;
        list[length] = '\0';
        for (;;) {
            long pid = strtol(at, &end, 10);
            if (end == at)
                break;
            at = end;
            kill(-(pid_t)pid, SIGKILL);
            kill((pid_t)pid, SIGKILL);
            waitpid((pid_t)pid, NULL, 0);
            found = 1;
        }
        if (!found)
            return;
    }
}

extern char **environ;

#define MAX_ITEMS 64 /* variables a request may bring (the runtime sends about ten) */

static size_t initial_count;
static char **invoke_environment; /* the host's first variables, then a request's: NULL-ended */

static int save_environment(void)
{
    size_t i;
    while (environ[initial_count] != NULL)
        initial_count++;
    initial_environment = calloc(initial_count + 1, sizeof *initial_environment);
    invoke_environment = calloc(initial_count + MAX_ITEMS + 1, sizeof *invoke_environment);
    if (initial_environment == NULL || invoke_environment == NULL)
        return -1;
    for (i = 0; i < initial_count; i++)
        if ((initial_environment[i] = strdup(environ[i])) == NULL)
            return -1;
    return 0;
}

/* The invoke's environment, put in place of environ: the host's first variables (what a
   subprogram SET ENVIRONMENT in an earlier invoke is gone, as in a new process), with the
   request's items on top, "NAME=VALUE" to set and "NAME" to unset. The items stay where
   the request put them, in a buffer the next request overwrites only after this
   environment has been replaced. Not setenv: glibc keeps every value setenv was ever
   given, and a host serving millions of invokes, each with its own request id, would
   grow without end. */
static void apply_environment(char *items, size_t length)
{
    size_t n = initial_count, at = 0, added = 0, i;

    memcpy(invoke_environment, initial_environment, n * sizeof *invoke_environment);
    while (at < length && added < MAX_ITEMS) {
        char *item = items + at;
        char *equals = strchr(item, '=');
        size_t name = equals != NULL ? (size_t)(equals - item) : strlen(item);
        at += strlen(item) + 1;
        for (i = 0; i < n; i++)
            if (strncmp(invoke_environment[i], item, name) == 0 && invoke_environment[i][name] == '=')
                break;
        if (equals != NULL && i < n) {
            invoke_environment[i] = item;
        } else if (equals != NULL) {
            invoke_environment[n++] = item;
            added++;
        } else if (i < n) {
            invoke_environment[i] = invoke_environment[--n]; /* unset: the last one takes its place */
        }
    }
    invoke_environment[n] = NULL;
    environ = invoke_environment;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int serve(void)
{
    static char dir[MAX_DIR + 1];
    static char environment[MAX_ENV + 1];
    struct request_header request;
    void *arguments[MAX_PARAMS];
    int home = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* where the host started: the task root */
    int i;

    for (i = 0; i < count; i++)
        arguments[i] = buffers[i];
    for (;;) {
        uint64_t started, took;
        int return_code, got = read_all(REQUEST_FD, &request, sizeof request);
        if (got == 0)
            return 0; /* the runtime is done with us */
        if (got < 0 || request.magic != REQUEST_MAGIC || request.dir_length > MAX_DIR ||
            request.env_length > MAX_ENV || request.data_length != total) {
            reply(BAD_REQUEST, 0, 0, 0, "malformed request frame", NULL);
            return 2;
        }
        if (read_all(REQUEST_FD, dir, request.dir_length) < 0 ||
            read_all(REQUEST_FD, environment, request.env_length) < 0)
            return 2;
        dir[request.dir_length] = '\0';
        environment[request.env_length] = '\0';
        for (i = 0; i < count; i++)
            if (read_all(REQUEST_FD, buffers[i], sizes[i]) < 0)
                return 2;
        if (request.dir_length > 0 && chdir(dir) != 0) {
            reply(BAD_REQUEST, 0, 0, 0, "cannot enter the invoke's working directory", NULL);
            return 2;
        }
        apply_environment(environment, request.env_length);
        runtime_error[0] = '\0';
        in_call = 1;
        started = now_ns();
        return_code = cob_call(entry, count, arguments);
        took = now_ns() - started;
        in_call = 0;
        fflush(stdout);
        end_children();
        reply(RETURNED, return_code, 0, took, NULL, buffers);
        /* After the reply, while the runtime posts the response: the next CALL finds
           WORKING-STORAGE as a new process would. */
        if (!keep_state)
            cob_cancel(entry);
        /* Leave the invoke's directory, which the runtime removes next: the host does not
           keep it alive, and the file system frees it then, not inside the next invoke. */
        if (home >= 0 && fchdir(home) != 0)
            return 2;
    }
}

int main(int argc, char **argv)
{
    static unsigned char install = 0;
    static int (*handler)(char *) = on_runtime_error;
    char *cob_argv[] = {argv[0], NULL};
    int i;

    if (argc != 3 || (strcmp(argv[2], "fresh") != 0 && strcmp(argv[2], "kept") != 0)) {
        fprintf(stderr, "usage: %s ENTRY fresh|kept (then a setup frame on fd %d)\n", argv[0], REQUEST_FD);
        return 2;
    }
    entry = argv[1];
    keep_state = strcmp(argv[2], "kept") == 0;
    if (save_environment() != 0) {
        reply(BAD_REQUEST, 0, 0, 0, "cannot copy the environment", NULL);
        return 1;
    }
    /* The protocol's pipes are this process's alone: what the subprogram starts
       (CALL 'SYSTEM') must neither write frames nor keep a pipe open. */
    fcntl(REQUEST_FD, F_SETFD, FD_CLOEXEC);
    fcntl(REPLY_FD, F_SETFD, FD_CLOEXEC);
    cob_init(1, cob_argv);
    default_signals();
    cob_sys_error_proc(&install, &handler);
    atexit(on_exit_during_call);
    if (cob_resolve_cobol(entry, 0, 0) == NULL) {
        const char *why = cob_resolve_error();
        reply(INIT_FAILED, 0, 0, 0, why != NULL ? why : "entry not found", NULL);
        return 1;
    }
    if (read_setup() != 0) {
        reply(BAD_REQUEST, 0, 0, 0, "malformed setup frame", NULL);
        return 2;
    }
    if (allocate_buffers() != 0) {
        reply(BAD_REQUEST, 0, 0, 0, "cannot allocate the parameters' buffers", NULL);
        return 1;
    }
    reply(READY, 0, 0, 0, NULL, NULL);
    i = serve();
    cob_tidy();
    return i;
}
