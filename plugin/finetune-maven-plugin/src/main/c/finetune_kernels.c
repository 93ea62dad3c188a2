/*
 * Kernels TensorFlow lacks, for training only, loaded into TF Java's TensorFlow with TF_LoadLibrary
 * (TrainingKernels.java). No exported model names them: the rewrites that use them are undone at export.
 *
 * FinetuneGelu(x) -> (y, dydx): a GELU and its derivative, in one pass over x. Written with TensorFlow's ops, the pair
 * takes a dozen element-wise passes over the intermediate layer's activations (GeluRewrite's detour for the tanh form;
 * the erf chain and its gradient for the exact one), about a fifth of a BERT-base training step's op time.
 *   approximate (the tanh form of Google's BERT, GeluRewrite's detour's formula), c = sqrt(2 / pi), a = 0.044715:
 *     s = sigmoid(x (2c + 2ca x^2)),  y = x s,  dydx = s + s (1 - s) x (2c + 6ca x^2);
 *   exact (tf.nn.gelu(approximate=False), Keras 3's "gelu", Hugging Face's BERT), Phi and phi the normal cdf and pdf:
 *     y = x Phi(x),  dydx = Phi(x) + x phi(x).
 * Each element is computed in float32; bfloat16 tensors are widened on load and rounded to nearest even on store, as
 * TensorFlow's own casts do.
 *
 * Only TensorFlow's C API is used, declared below as tensorflow/c/kernels.h, ops.h and tf_tensor.h declare it (TF Java
 * ships no headers). The library names libtensorflow_framework.so.2 as a dependency, which the dynamic linker finds by
 * its soname among the libraries TF Java has loaded already. The loops are compiled for AVX-512, AVX2 with FMA
 * (Haswell) and plain x86-64 (target_clones), the best the CPU runs picked when the library loads; exp is a
 * branch-free polynomial so that every one of them vectorises. (The clones may round differently in the last bit:
 * FMA or not.)
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct TF_Status TF_Status;
typedef struct TF_Tensor TF_Tensor;
typedef struct TF_KernelBuilder TF_KernelBuilder;
typedef struct TF_OpKernelConstruction TF_OpKernelConstruction;
typedef struct TF_OpKernelContext TF_OpKernelContext;
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;
typedef struct TF_ShapeInferenceContext TF_ShapeInferenceContext;
typedef struct TF_ShapeHandle TF_ShapeHandle;
typedef int TF_DataType;
enum { TF_FLOAT = 1, TF_BFLOAT16 = 14 };
enum { TF_OK = 0, TF_INVALID_ARGUMENT = 3 };

extern TF_Status *TF_NewStatus(void);
extern void TF_DeleteStatus(TF_Status *);
extern int TF_GetCode(const TF_Status *);
extern void TF_SetStatus(TF_Status *, int, const char *);
extern void *TF_TensorData(const TF_Tensor *);
extern int64_t TF_TensorElementCount(const TF_Tensor *);
extern int TF_NumDims(const TF_Tensor *);
extern int64_t TF_Dim(const TF_Tensor *, int);
extern TF_DataType TF_TensorType(const TF_Tensor *);
extern void TF_DeleteTensor(TF_Tensor *);
extern TF_KernelBuilder *TF_NewKernelBuilder(const char *, const char *, void *(*)(TF_OpKernelConstruction *),
                                             void (*)(void *, TF_OpKernelContext *), void (*)(void *));
extern void TF_KernelBuilder_TypeConstraint(TF_KernelBuilder *, const char *, TF_DataType, TF_Status *);
extern void TF_RegisterKernelBuilder(const char *, TF_KernelBuilder *, TF_Status *);
extern void TF_DeleteKernelBuilder(TF_KernelBuilder *);
extern void TF_GetInput(TF_OpKernelContext *, int, TF_Tensor **, TF_Status *);
extern TF_Tensor *TF_AllocateOutput(TF_OpKernelContext *, int, TF_DataType, const int64_t *, int, size_t, TF_Status *);
extern void TF_OpKernelContext_Failure(TF_OpKernelContext *, TF_Status *);
extern void TF_OpKernelConstruction_GetAttrBool(TF_OpKernelConstruction *, const char *, unsigned char *, TF_Status *);
extern void TF_OpKernelConstruction_GetAttrInt32(TF_OpKernelConstruction *, const char *, int32_t *, TF_Status *);
extern void TF_OpKernelConstruction_Failure(TF_OpKernelConstruction *, TF_Status *);
extern TF_OpDefinitionBuilder *TF_NewOpDefinitionBuilder(const char *);
extern void TF_OpDefinitionBuilderAddAttr(TF_OpDefinitionBuilder *, const char *);
extern void TF_OpDefinitionBuilderAddInput(TF_OpDefinitionBuilder *, const char *);
extern void TF_OpDefinitionBuilderAddOutput(TF_OpDefinitionBuilder *, const char *);
extern void TF_OpDefinitionBuilderSetShapeInferenceFunction(TF_OpDefinitionBuilder *,
                                                            void (*)(TF_ShapeInferenceContext *, TF_Status *));
extern void TF_RegisterOpDefinition(TF_OpDefinitionBuilder *, TF_Status *);
extern TF_ShapeHandle *TF_NewShapeHandle(void);
extern void TF_DeleteShapeHandle(TF_ShapeHandle *);
extern void TF_ShapeInferenceContextGetInput(TF_ShapeInferenceContext *, int, TF_ShapeHandle *, TF_Status *);
extern void TF_ShapeInferenceContextSetOutput(TF_ShapeInferenceContext *, int, TF_ShapeHandle *, TF_Status *);

/* 2c, 2ca and 6ca, as GeluRewrite computes them in double and rounds them to float. */
#define TWO_C 1.5957691216057308f
#define TWO_CA 0.07135481627159935f
#define SIX_CA 0.21406444881479805f

static inline float from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t to_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* exp(x), Cephes' expf: 2^n times a degree-6 polynomial on [-ln2/2, ln2/2]; within 2 ulp for x in [-87, 88], to
 * which x is clamped (the callers treat arguments past the clamp themselves). */
static inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest, branch-free */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    return e * from_bits((uint32_t)((int32_t)n + 127) << 23);
}

static inline void gelu_tanh(float x, float *y, float *dydx) {
    float x2 = x * x;
    float z = x * (TWO_C + TWO_CA * x2);
    float s = 1.0f / (1.0f + exp_approx(-z));
    /* Past the clamp of exp the sigmoid is exactly 0 or 1: else a tiny s times x^3 would leave a derivative, or an
     * overflowing x^3 a NaN, far out in the tails. */
    s = z < -87.0f ? 0.0f : (z > 87.0f ? 1.0f : s);
    float slope = z < -87.0f || z > 87.0f ? 0.0f : s * (1.0f - s) * x * (TWO_C + SIX_CA * x2);
    *y = x * s;
    *dydx = s + slope;
}

#define SQRT_HALF 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

/* erfc(z) for z >= 0: Numerical Recipes' erfcc, a Chebyshev fit with relative error under 1.2e-7 for every z, so the
 * normal cdf keeps its relative precision far into the lower tail (where x Phi(x) is tiny but not zero). */
static inline float erfc_nonnegative(float z) {
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * exp_approx(-z * z + p);
}

static inline void gelu_exact(float x, float *y, float *dydx) {
    float tail = 0.5f * erfc_nonnegative(fabsf(x) * SQRT_HALF); /* P(N > |x|) */
    float cdf = x < 0.0f ? tail : 1.0f - tail;
    *y = x * cdf;
    *dydx = cdf + x * INV_SQRT_2PI * exp_approx(-0.5f * x * x);
}

/* float32 to bfloat16, rounded to nearest even; NaN stays NaN. */
static inline uint16_t to_bfloat16(float f) {
    uint32_t b = to_bits(f);
    uint32_t rounded = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    return (uint16_t)((b & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : rounded);
}

/* One loop per form and type, each compiled for AVX-512, AVX2 with FMA and plain x86-64. bfloat16 goes through float32 blocks:
 * three simple loops (widen, compute, round) vectorise where one mixed loop did not (864 x 3,072 elements, tanh form:
 * 4.3 ms as one loop, 2.4 ms in blocks; float32 1.7 ms). */
#define BLOCK 1024
#define GELU_LOOPS(form)                                                                                              \
    __attribute__((target_clones("avx512f", "arch=haswell", "default")))                                                      \
    static void form##_float(const float *restrict x, float *restrict y, float *restrict dydx, int64_t n) {          \
        for (int64_t i = 0; i < n; i++) form(x[i], &y[i], &dydx[i]);                                                  \
    }                                                                                                                 \
    __attribute__((target_clones("avx512f", "arch=haswell", "default")))                                                      \
    static void form##_bfloat16(const uint16_t *restrict x, uint16_t *restrict y, uint16_t *restrict dydx, int64_t n) { \
        float xs[BLOCK], ys[BLOCK], ds[BLOCK];                                                                        \
        for (int64_t start = 0; start < n; start += BLOCK) {                                                          \
            int64_t m = n - start < BLOCK ? n - start : BLOCK;                                                        \
            for (int64_t i = 0; i < m; i++) xs[i] = from_bits((uint32_t)x[start + i] << 16);                          \
            for (int64_t i = 0; i < m; i++) form(xs[i], &ys[i], &ds[i]);                                              \
            for (int64_t i = 0; i < m; i++) {                                                                         \
                y[start + i] = to_bfloat16(ys[i]);                                                                    \
                dydx[start + i] = to_bfloat16(ds[i]);                                                                 \
            }                                                                                                         \
        }                                                                                                             \
    }

GELU_LOOPS(gelu_tanh)
GELU_LOOPS(gelu_exact)

typedef struct {
    TF_DataType type;
    int approximate;
    const void *x;
    void *y, *dydx;
    int64_t from, to;
} Slice;

static void *run_slice(void *arg) {
    const Slice *s = arg;
    int64_t n = s->to - s->from;
    if (s->type == TF_FLOAT) {
        const float *x = (const float *)s->x + s->from;
        float *y = (float *)s->y + s->from, *d = (float *)s->dydx + s->from;
        if (s->approximate) gelu_tanh_float(x, y, d, n); else gelu_exact_float(x, y, d, n);
    } else {
        const uint16_t *x = (const uint16_t *)s->x + s->from;
        uint16_t *y = (uint16_t *)s->y + s->from, *d = (uint16_t *)s->dydx + s->from;
        if (s->approximate) gelu_tanh_bfloat16(x, y, d, n); else gelu_exact_bfloat16(x, y, d, n);
    }
    return NULL;
}

/* The C kernel API offers no access to TensorFlow's thread pools: a large tensor is cut into slices of at least
 * MIN_SLICE elements, at most `threads` of them (the op's attribute, which the plugin sets from the session's intra-op
 * threads or the CPUs the JVM may use; 0: the CPUs this process may run on), run on threads of our own while the
 * calling thread takes the first. (On one thread, 16 x 14 tokens' GELUs took twice as long; the step the same.) */
#define MAX_THREADS 64
#define MIN_SLICE (1 << 16)

static int64_t usable_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? online : 1;
}

static void run(TF_DataType type, int approximate, int64_t max_threads, const void *x, void *y, void *dydx, int64_t n) {
    int64_t threads = n / MIN_SLICE;
    if (threads > max_threads) threads = max_threads;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads < 1) threads = 1;
    Slice slices[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int64_t t = 0; t < threads; t++) {
        slices[t] = (Slice){type, approximate, x, y, dydx, n * t / threads, n * (t + 1) / threads};
        if (t > 0) started[t] = pthread_create(&ids[t], NULL, run_slice, &slices[t]) == 0;
    }
    run_slice(&slices[0]);
    for (int64_t t = 1; t < threads; t++) {
        if (started[t]) {
            pthread_join(ids[t], NULL);
        } else {
            run_slice(&slices[t]); /* no thread to be had: this one does it */
        }
    }
}

#define MAX_RANK 32

/* The kernel's settings: its attributes, read when TensorFlow builds it. */
typedef struct {
    int approximate;
    int64_t threads;
} GeluKernel;

static void *create_gelu(TF_OpKernelConstruction *ctx) {
    GeluKernel *kernel = malloc(sizeof *kernel);
    TF_Status *status = TF_NewStatus();
    unsigned char approximate = 1;
    int32_t threads = 0;
    TF_OpKernelConstruction_GetAttrBool(ctx, "approximate", &approximate, status);
    if (TF_GetCode(status) == TF_OK) TF_OpKernelConstruction_GetAttrInt32(ctx, "threads", &threads, status);
    if (kernel == NULL) {
        TF_SetStatus(status, TF_INVALID_ARGUMENT, "FinetuneGelu: out of memory");
    }
    if (TF_GetCode(status) != TF_OK) {
        TF_OpKernelConstruction_Failure(ctx, status);
    } else {
        kernel->approximate = approximate != 0;
        kernel->threads = threads > 0 ? threads : usable_cpus();
    }
    TF_DeleteStatus(status);
    return kernel;
}

static void delete_gelu(void *kernel) {
    free(kernel);
}

static void compute_gelu(void *kernel, TF_OpKernelContext *ctx) {
    TF_Status *status = TF_NewStatus();
    TF_Tensor *x = NULL, *y = NULL, *dydx = NULL;
    TF_GetInput(ctx, 0, &x, status);
    if (TF_GetCode(status) == TF_OK && TF_NumDims(x) > MAX_RANK) {
        TF_SetStatus(status, TF_INVALID_ARGUMENT, "FinetuneGelu takes tensors of rank 32 at most");
    }
    if (TF_GetCode(status) == TF_OK) {
        int rank = TF_NumDims(x);
        int64_t dims[MAX_RANK];
        for (int i = 0; i < rank; i++) dims[i] = TF_Dim(x, i);
        TF_DataType type = TF_TensorType(x);
        int64_t n = TF_TensorElementCount(x);
        size_t bytes = (size_t)n * (type == TF_FLOAT ? sizeof(float) : sizeof(uint16_t));
        y = TF_AllocateOutput(ctx, 0, type, dims, rank, bytes, status);
        if (TF_GetCode(status) == TF_OK) dydx = TF_AllocateOutput(ctx, 1, type, dims, rank, bytes, status);
        if (TF_GetCode(status) == TF_OK && n > 0) {
            const GeluKernel *k = kernel;
            run(type, k->approximate, k->threads, TF_TensorData(x), TF_TensorData(y), TF_TensorData(dydx), n);
        }
    }
    if (TF_GetCode(status) != TF_OK) TF_OpKernelContext_Failure(ctx, status);
    if (x) TF_DeleteTensor(x);
    if (y) TF_DeleteTensor(y);
    if (dydx) TF_DeleteTensor(dydx);
    TF_DeleteStatus(status);
}

/* Both outputs have x's shape. */
static void gelu_shapes(TF_ShapeInferenceContext *ctx, TF_Status *status) {
    TF_ShapeHandle *shape = TF_NewShapeHandle();
    TF_ShapeInferenceContextGetInput(ctx, 0, shape, status);
    if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, shape, status);
    if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 1, shape, status);
    TF_DeleteShapeHandle(shape);
}

/* Whether the comma-separated `list` holds `entry` exactly (TensorFlow splits these lists on commas). */
static int listed(const char *list, const char *entry) {
    size_t length = strlen(entry);
    for (const char *p = list; p != NULL; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, entry, length) == 0 && (p[length] == ',' || p[length] == '\0')) return 1;
    }
    return 0;
}

/* TensorFlow's auto mixed precision converts only the ops on its lists, which it reads from the environment each time
 * it rewrites a graph: without this it keeps FinetuneGelu in float32 and casts its input and both outputs around it
 * (67 ms of casts a 16 x 54 step on BERT-base). The kernel computes in float32 whatever it is given, so it belongs
 * with Sigmoid and Tanh on the infer list (bfloat16 when its input is). A value the user set is kept and added to.
 * setenv is not safe against another thread's getenv: TrainingKernels loads this library before the engine builds
 * or runs any graph, so no TensorFlow thread of the plugin's reads the environment meanwhile. */
static void add_to_mixed_precision_infer_list(const char *op) {
    const char *name = "TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_INFERLIST_ADD";
    const char *old = getenv(name);
    if (old == NULL || old[0] == '\0') {
        setenv(name, op, 1);
    } else if (!listed(old, op)) {
        size_t length = strlen(old) + 1 + strlen(op) + 1;
        char *list = malloc(length);
        if (list != NULL) {
            snprintf(list, length, "%s,%s", old, op);
            setenv(name, list, 1);
            free(list);
        }
    }
}

/* TF_LoadLibrary collects the ops a library registers while it loads, so registration runs as the library's
 * constructor: the kernels first, the op last, so that an op TF_LoadLibrary reports has both its kernels. What fails
 * to register is absent from what TF_LoadLibrary reports (TrainingKernels then falls back to TensorFlow's ops). */
__attribute__((constructor))
static void register_kernels(void) {
    TF_Status *status = TF_NewStatus();
    const TF_DataType types[] = {TF_FLOAT, TF_BFLOAT16};
    for (size_t i = 0; i < sizeof types / sizeof types[0] && TF_GetCode(status) == TF_OK; i++) {
        TF_KernelBuilder *kernel = TF_NewKernelBuilder("FinetuneGelu", "CPU", create_gelu, compute_gelu, delete_gelu);
        TF_KernelBuilder_TypeConstraint(kernel, "T", types[i], status);
        if (TF_GetCode(status) == TF_OK) {
            TF_RegisterKernelBuilder("FinetuneGelu", kernel, status);
        } else {
            TF_DeleteKernelBuilder(kernel);
        }
    }
    if (TF_GetCode(status) == TF_OK) {
        TF_OpDefinitionBuilder *op = TF_NewOpDefinitionBuilder("FinetuneGelu");
        TF_OpDefinitionBuilderAddAttr(op, "T: {float, bfloat16}");
        TF_OpDefinitionBuilderAddAttr(op, "approximate: bool = true");
        TF_OpDefinitionBuilderAddAttr(op, "threads: int = 0");
        TF_OpDefinitionBuilderAddInput(op, "x: T");
        TF_OpDefinitionBuilderAddOutput(op, "y: T");
        TF_OpDefinitionBuilderAddOutput(op, "dydx: T");
        TF_OpDefinitionBuilderSetShapeInferenceFunction(op, gelu_shapes);
        TF_RegisterOpDefinition(op, status);
    }
    if (TF_GetCode(status) == TF_OK) add_to_mixed_precision_infer_list("FinetuneGelu");
    TF_DeleteStatus(status);
}
