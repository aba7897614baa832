/* Device and dtype names, parsed once for every front end (lacgpu, weights_tools, benches):
 * the spellings are part of the command-line interface and must not drift between tools. */
#include <string.h>

#include "lac_error.h"
#include "model_file.h"

/* A decimal GPU index 0..255 spanning s[0..n) exactly; -1 otherwise. */
static int gpu_index(const char *s, size_t n) {
    if (n == 0 || n > 3) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 255 ? v : -1;
}

/* "cuda:0,2,5": the list after "cuda:" into o->devices. */
static lac_status parse_gpu_list(const char *name, const char *list, lac_engine_options *o,
                                 lac_error *err) {
    int n = 0;
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int idx = gpu_index(p, len);
        if (idx < 0)
            return lac_fail(err, LAC_ERR_ARG, "device '%s': '%.*s' is not a GPU index (0..255)",
                            name, (int)len, p);
        for (int i = 0; i < n; i++)
            if (o->devices[i] == idx)
                return lac_fail(err, LAC_ERR_ARG, "device '%s': GPU %d given twice", name, idx);
        if (n == LAC_MAX_DEVICES)
            return lac_fail(err, LAC_ERR_LIMIT, "device '%s': more than %d GPUs", name,
                            LAC_MAX_DEVICES);
        o->devices[n++] = idx;
        if (!comma) break;
        p = comma + 1;
    }
    o->device = LAC_DEVICE_CUDA;
    o->cuda_index = o->devices[0];
    o->n_devices = n;
    return LAC_OK;
}

/* "cpu,cpu,cpu": n copies of one CPU kind; 0 when s is not such a list. */
static int cpu_copies(const char *s, const char *kind) {
    size_t k = strlen(kind);
    int n = 0;
    for (const char *p = s;; p += k + 1) {
        if (strncmp(p, kind, k) || (p[k] != ',' && p[k] != '\0')) return 0;
        n++;
        if (p[k] == '\0') return n;
    }
}

lac_status lac_device_parse(const char *name, lac_engine_options *o, lac_error *err) {
    if (!name || !o) return lac_fail(err, LAC_ERR_ARG, "device: name or options is NULL");
    lac_engine_options t = *o;
    t.n_devices = 0;
    t.cuda_index = 0;
    int n;
    if (!strcmp(name, "auto")) t.device = LAC_DEVICE_AUTO;
    else if (!strcmp(name, "cuda")) t.device = LAC_DEVICE_CUDA;
    else if (!strcmp(name, "cuda:all")) t.device = LAC_DEVICE_CUDA, t.n_devices = LAC_DEVICES_ALL;
    else if (!strncmp(name, "cuda:", 5)) {
        lac_status s = parse_gpu_list(name, name + 5, &t, err);
        if (s) return s;
    } else if ((n = cpu_copies(name, "cpu-scalar")) > 0) {
        t.device = LAC_DEVICE_CPU_SCALAR, t.n_devices = n;
    } else if ((n = cpu_copies(name, "cpu")) > 0) {
        t.device = LAC_DEVICE_CPU, t.n_devices = n;
    } else {
        return lac_fail(err, LAC_ERR_ARG, "unknown device '%s' (cpu, cpu-scalar, cuda, cuda:N, "
                        "cuda:all, cuda:N,M,..., auto)", name);
    }
    if (t.n_devices > LAC_MAX_DEVICES)
        return lac_fail(err, LAC_ERR_LIMIT, "device '%s': more than %d engines", name,
                        LAC_MAX_DEVICES);
    if (t.n_devices == 1) t.n_devices = 0; /* one device is the plain engine */
    *o = t;
    return LAC_OK;
}

lac_status lac_dtype_parse(const char *name, lac_dtype *out, lac_error *err) {
    static const lac_dtype all[] = {LAC_DTYPE_F32, LAC_DTYPE_F16, LAC_DTYPE_BF16};
    for (size_t i = 0; name && out && i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(name, lac_dtype_name(all[i]))) {
            *out = all[i];
            return LAC_OK;
        }
    return lac_fail(err, LAC_ERR_ARG, "unknown dtype '%s' (f32, f16, bf16)", name ? name : "");
}

const char *lac_dtype_name(lac_dtype d) {
    const char *s = lacm_dtype_name((uint32_t)d);
    return strcmp(s, "unknown") ? s : "?";
}
