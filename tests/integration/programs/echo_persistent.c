/* A persistent-mode program: for each request line
 *   {"id":"...",...,"event":EVENT}
 * it answers {"id":"...","response":EVENT}. The runtime puts "event" last and writes
 * compact JSON, so the event is everything after "event": but the final brace. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

int main(void) {
    size_t cap = 1 << 16;
    char *line = malloc(cap);
    while (getline(&line, &cap, stdin) > 0) {
        char *id = strstr(line, "\"id\":\"");
        char *event = strstr(line, ",\"event\":");
        if (!id || !event) { fprintf(stderr, "bad request line\n"); continue; }
        id += 6;
        char *id_end = strchr(id, '"');
        char *end = strrchr(line, '}');  /* the envelope's closing brace */
        event += 9;
        fputs("{\"id\":\"", stdout);
        fwrite(id, 1, (size_t)(id_end - id), stdout);
        fputs("\",\"response\":", stdout);
        fwrite(event, 1, (size_t)(end - event), stdout);
        fputs("}\n", stdout);
        fflush(stdout);
    }
    return 0;
}
