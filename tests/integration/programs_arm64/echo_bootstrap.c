/* A Lambda bootstrap in C, built static for arm64: the Runtime API loop at its smallest.
 * GET /2018-06-01/runtime/invocation/next from $AWS_LAMBDA_RUNTIME_API over a plain
 * socket, then POST the event back uppercased to .../invocation/<request id>/response;
 * again and again. One request a connection (Connection: close), so an answer ends when
 * the RIE closes it. It proves the arm64 RIE and an arm64 bootstrap run, under qemu-user,
 * in the sandbox. No libc beyond sockets and strings: nothing for the sandbox to lack. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ANSWER (1 << 20)
static char answer[MAX_ANSWER + 1];
static char request[MAX_ANSWER + 512];

/* Send `length` bytes of `out` to the Runtime API, read the whole answer into `answer`. */
static size_t exchange(const char *host, int port, const char *out, size_t length) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0 || inet_pton(AF_INET, host, &address.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("echo_bootstrap: connect");
        exit(1);
    }
    for (size_t sent = 0; sent < length;) {
        ssize_t n = write(fd, out + sent, length - sent);
        if (n <= 0) { perror("echo_bootstrap: write"); exit(1); }
        sent += (size_t)n;
    }
    size_t got = 0;
    for (ssize_t n; got < MAX_ANSWER && (n = read(fd, answer + got, MAX_ANSWER - got)) > 0;) got += (size_t)n;
    close(fd);
    answer[got] = '\0';
    return got;
}

/* The value of header `name` in `answer`'s header block, copied into `value`. */
static int header(const char *name, char *value, size_t size) {
    size_t length = strlen(name);
    for (char *line = strstr(answer, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, length) == 0 && line[2 + length] == ':') {
            char *start = line + 3 + length, *end = strstr(start, "\r\n");
            while (*start == ' ') start++;
            size_t n = (size_t)(end - start) < size - 1 ? (size_t)(end - start) : size - 1;
            memcpy(value, start, n);
            value[n] = '\0';
            return 1;
        }
    }
    return 0;
}

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    char host[64], id[128];
    int port;
    if (!api || sscanf(api, "%63[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "echo_bootstrap: AWS_LAMBDA_RUNTIME_API is %s\n", api ? api : "unset");
        return 1;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    for (;;) {
        int n = snprintf(request, sizeof request, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
                         "Host: %s\r\nConnection: close\r\n\r\n", api);
        size_t got = exchange(host, port, request, (size_t)n);
        char *body = strstr(answer, "\r\n\r\n");
        if (!body || !header("Lambda-Runtime-Aws-Request-Id", id, sizeof id)) {
            fprintf(stderr, "echo_bootstrap: no request id in /next's answer\n");
            return 1;
        }
        body += 4;
        size_t length = got - (size_t)(body - answer);
        for (size_t i = 0; i < length; i++) body[i] = (char)toupper((unsigned char)body[i]);
        printf("echo_bootstrap: uid %d, %zu bytes for %s\n", (int)getuid(), length, id);
        n = snprintf(request, sizeof request, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\n"
                     "Host: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", id, api, length);
        memcpy(request + n, body, length);
        exchange(host, port, request, (size_t)n + length);
    }
}
