/* A shared library the test program depends on (libgreet.so). */
#include <stdio.h>

void greet(const char *name, char *out, size_t size) {
    snprintf(out, size, "Hello from libgreet, %s!", name);
}
