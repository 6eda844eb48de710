/* Reads a name from stdin and greets it through libgreet (a stdio-mode program). */
#include <stdio.h>
#include <string.h>

void greet(const char *name, char *out, size_t size);

int main(void) {
    char name[256] = "";
    char out[512];
    if (!fgets(name, sizeof name, stdin)) name[0] = '\0';
    name[strcspn(name, "\r\n")] = '\0';
    greet(name[0] ? name : "nobody", out, sizeof out);
    puts(out);
    return 0;
}
