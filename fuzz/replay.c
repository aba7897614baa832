/* Replays fuzz inputs without libFuzzer: replay_<target> FILE|DIR... calls the target's
 * LLVMFuzzerTestOneInput on every file (a directory: every file in it, in name order), so the
 * committed seeds and reproducers in fuzz/corpus/ run in every build, gcc and ASan included
 * (ctest: fuzz_replay_<target>, label ci). A failing input aborts, as under libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, k;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            uint8_t *q = realloc(buf, cap);
            if (!q) abort();
            buf = q;
        }
        k = fread(buf + n, 1, cap - n, f);
        n += k;
    } while (k);
    fclose(f);
    /* an exact-size copy, so that the sanitizers see over-reads as libFuzzer would */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) abort();
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st)) {
            fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad += run_file(argv[i]), files++;
            continue;
        }
        struct dirent **ents;
        int ne = scandir(argv[i], &ents, NULL, by_name);
        for (int j = 0; j < ne; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], ents[j]->d_name);
            if (ents[j]->d_name[0] != '.' && !stat(path, &st) && S_ISREG(st.st_mode))
                bad += run_file(path), files++;
            free(ents[j]);
        }
        free(ents);
    }
    printf("replay: %d inputs, %d unreadable\n", files, bad);
    return bad || files == 0;
}
