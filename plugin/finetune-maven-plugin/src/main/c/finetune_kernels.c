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
 * FinetuneAdam and FinetuneSquaredNorm (below): Adam that also writes a bfloat16 copy of the weight, and the sum of
 * squares that global-norm clipping needs, for training in bfloat16 mixed precision without casting weights and
 * weight gradients (WeightCopies.java).
 *
 * Only TensorFlow's C API is used, declared below as tensorflow/c/kernels.h, kernels_experimental.h, ops.h and
 * tf_tensor.h declare it (TF Java ships no headers). The library names libtensorflow_framework.so.2 as a dependency, which the dynamic linker finds by
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
extern TF_ShapeHandle *TF_ShapeInferenceContextScalar(TF_ShapeInferenceContext *);
extern size_t TF_TensorByteSize(const TF_Tensor *);
extern void TF_OpDefinitionBuilderSetIsStateful(TF_OpDefinitionBuilder *, unsigned char);
/* tensorflow/c/kernels_experimental.h: resource variables updated in place, as TensorFlow's own optimizers do. */
typedef struct TF_VariableInputLockHolder TF_VariableInputLockHolder;
typedef void (*TF_CopyTensor)(TF_OpKernelContext *, TF_Tensor *, TF_Tensor *);
extern void TF_MaybeLockVariableInputMutexesInOrder(TF_OpKernelContext *, unsigned char, unsigned char, const int *, size_t,
                                                    TF_CopyTensor, TF_VariableInputLockHolder **, TF_Status *);
extern void TF_GetInputTensorFromVariable(TF_OpKernelContext *, int, unsigned char, unsigned char, unsigned char,
                                          TF_CopyTensor, TF_Tensor **, TF_Status *);
extern void TF_ReleaseVariableInputLockHolder(TF_VariableInputLockHolder *);

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

/* float32 to bfloat16, rounded to nearest even; NaN stays NaN, with its sign (as Eigen's conversion). */
static inline uint16_t to_bfloat16(float f) {
    uint32_t b = to_bits(f);
    uint32_t rounded = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    return (uint16_t)((b & 0x7FFFFFFFu) > 0x7F800000u ? ((b >> 16) & 0x8000u) | 0x7FC0u : rounded);
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
} GeluWork;

static void gelu_slice(void *arg, int64_t from, int64_t to) {
    const GeluWork *w = arg;
    int64_t n = to - from;
    if (w->type == TF_FLOAT) {
        const float *x = (const float *)w->x + from;
        float *y = (float *)w->y + from, *d = (float *)w->dydx + from;
        if (w->approximate) gelu_tanh_float(x, y, d, n); else gelu_exact_float(x, y, d, n);
    } else {
        const uint16_t *x = (const uint16_t *)w->x + from;
        uint16_t *y = (uint16_t *)w->y + from, *d = (uint16_t *)w->dydx + from;
        if (w->approximate) gelu_tanh_bfloat16(x, y, d, n); else gelu_exact_bfloat16(x, y, d, n);
    }
}

/* The C kernel API offers no access to TensorFlow's thread pools: a large tensor is cut into slices of at least
 * MIN_SLICE elements, at most `threads` of them (the op's attribute, which the plugin sets from the session's intra-op
 * threads or the CPUs the JVM may use; 0: the CPUs this process may run on), run on threads of our own while the
 * calling thread takes the first. (On one thread, 16 x 14 tokens' GELUs took twice as long; the step the same.)
 * Slices start at multiples of BLOCK, so that a blocked loop cuts a tensor the same way on any number of threads. */
#define MAX_THREADS 64
#define MIN_SLICE (1 << 16)

static int64_t usable_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? online : 1;
}

typedef struct {
    void (*body)(void *, int64_t, int64_t);
    void *work;
    int64_t from, to;
} Slice;

static void *run_slice(void *arg) {
    const Slice *s = arg;
    if (s->to > s->from) s->body(s->work, s->from, s->to);
    return NULL;
}

/* Slice t of `threads` is run by body(work, from, to); returns how many slices there were. */
static int64_t parallel_for(int64_t n, int64_t max_threads, void (*body)(void *, int64_t, int64_t), void *work) {
    int64_t threads = n / MIN_SLICE;
    if (threads > max_threads) threads = max_threads;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads < 1) threads = 1;
    int64_t blocks = (n + BLOCK - 1) / BLOCK;
    Slice slices[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int64_t t = 0; t < threads; t++) {
        int64_t from = blocks * t / threads * BLOCK, to = blocks * (t + 1) / threads * BLOCK;
        slices[t] = (Slice){body, work, from < n ? from : n, to < n ? to : n};
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
    return threads;
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
            GeluWork work = {type, k->approximate, TF_TensorData(x), TF_TensorData(y), TF_TensorData(dydx)};
            parallel_for(n, k->threads, gelu_slice, &work);
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

/*
 * FinetuneSquaredNorm(x) -> sum: the sum of x's squares, in float32 whatever x's type: what global-norm clipping adds
 * up over the gradients. Each block of BLOCK elements is summed in float32 lanes, the blocks in double.
 *
 * FinetuneAdam(var, m, v, copy, beta1_power, beta2_power, lr, beta1, beta2, epsilon, scale, decay, grad): TensorFlow's
 * Adam (ResourceApplyAdam's formula, on float32 variables) applied to g = scale * grad, with AdamW's decoupled weight
 * decay, which also writes `copy`, a bfloat16 variable, with the new weights rounded to nearest even:
 *   alpha = lr sqrt(1 - beta2_power) / (1 - beta1_power),
 *   m += (g - m)(1 - beta1),  v += (g^2 - v)(1 - beta2),  var -= lr decay var + alpha m / (sqrt(v) + epsilon),
 *   copy = bf16(var).
 * In bfloat16 mixed precision, products read their weights as bfloat16 and leave weight gradients in bfloat16: read
 * from `copy` (WeightCopies), a weight needs no cast to bfloat16 before the forward pass, and the gradient no cast back
 * to float32 before Adam (grad is bfloat16 when mixed precision paints this op so, as it does when the gradient comes
 * from a product); clipping's scale is applied on the way instead of in a pass of its own. One pass over the five
 * tensors instead of four passes (cast, cast back, clip, Adam).
 */
typedef struct {
    TF_DataType type;
    const void *x;
    double *sums; /* one per block */
} NormWork;

/* Sixteen sums side by side: gcc's vector type, one AVX-512 register or two AVX2 ones (a plain loop over an array of
 * sixteen partial sums was left scalar: 74 of BERT-base's gradients took 51 ms). */
typedef float lanes16 __attribute__((vector_size(64)));

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static float squares_float(const float *restrict x, int64_t n) {
    lanes16 sums = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        lanes16 v;
        memcpy(&v, x + i, sizeof v);
        sums += v * v;
    }
    float sum = 0.0f;
    for (; i < n; i++) sum += x[i] * x[i];
    for (int j = 0; j < 16; j++) sum += sums[j];
    return sum;
}

static void norm_slice(void *arg, int64_t from, int64_t to) {
    const NormWork *w = arg;
    float xs[BLOCK];
    for (int64_t start = from; start < to; start += BLOCK) {
        int64_t m = to - start < BLOCK ? to - start : BLOCK;
        const float *block;
        if (w->type == TF_FLOAT) {
            block = (const float *)w->x + start;
        } else {
            const uint16_t *x = (const uint16_t *)w->x + start;
            for (int64_t i = 0; i < m; i++) xs[i] = from_bits((uint32_t)x[i] << 16);
            block = xs;
        }
        w->sums[start / BLOCK] = squares_float(block, m);
    }
}

/* Kernels whose only attribute is `threads` (as FinetuneGelu's). */
static void *create_threaded(TF_OpKernelConstruction *ctx) {
    int64_t *threads = malloc(sizeof *threads);
    TF_Status *status = TF_NewStatus();
    int32_t value = 0;
    TF_OpKernelConstruction_GetAttrInt32(ctx, "threads", &value, status);
    if (threads == NULL) TF_SetStatus(status, TF_INVALID_ARGUMENT, "out of memory");
    if (TF_GetCode(status) != TF_OK) {
        TF_OpKernelConstruction_Failure(ctx, status);
    } else {
        *threads = value > 0 ? value : usable_cpus();
    }
    TF_DeleteStatus(status);
    return threads;
}

static void delete_threaded(void *kernel) {
    free(kernel);
}

static void compute_squared_norm(void *kernel, TF_OpKernelContext *ctx) {
    TF_Status *status = TF_NewStatus();
    TF_Tensor *x = NULL, *out = NULL;
    double *sums = NULL;
    TF_GetInput(ctx, 0, &x, status);
    if (TF_GetCode(status) == TF_OK) out = TF_AllocateOutput(ctx, 0, TF_FLOAT, NULL, 0, sizeof(float), status);
    if (TF_GetCode(status) == TF_OK) {
        int64_t n = TF_TensorElementCount(x);
        int64_t blocks = (n + BLOCK - 1) / BLOCK;
        sums = calloc(blocks > 0 ? (size_t)blocks : 1, sizeof *sums);
        if (sums == NULL) {
            TF_SetStatus(status, TF_INVALID_ARGUMENT, "FinetuneSquaredNorm: out of memory");
        } else {
            NormWork work = {TF_TensorType(x), TF_TensorData(x), sums};
            if (n > 0) parallel_for(n, *(const int64_t *)kernel, norm_slice, &work);
            double total = 0.0;
            for (int64_t b = 0; b < blocks; b++) total += sums[b]; /* in block order: the same sum on any thread count */
            *(float *)TF_TensorData(out) = (float)total;
        }
    }
    if (TF_GetCode(status) != TF_OK) TF_OpKernelContext_Failure(ctx, status);
    free(sums);
    if (x) TF_DeleteTensor(x);
    if (out) TF_DeleteTensor(out);
    TF_DeleteStatus(status);
}

typedef struct {
    float *var, *m, *v;
    uint16_t *copy;
    const void *grad;
    TF_DataType type;
    float alpha, beta1, beta2, epsilon, scale, shrink;
} AdamWork;

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void adam_float(float *restrict var, float *restrict m, float *restrict v, uint16_t *restrict copy,
                       const float *restrict g, int64_t n, float alpha, float beta1, float beta2, float epsilon, float scale,
                       float shrink) {
    float one_minus_beta1 = 1.0f - beta1, one_minus_beta2 = 1.0f - beta2;
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] * scale;
        float mi = m[i] + (gi - m[i]) * one_minus_beta1;
        float vi = v[i] + (gi * gi - v[i]) * one_minus_beta2;
        float wi = var[i] - shrink * var[i] - (mi * alpha) / (sqrtf(vi) + epsilon);
        m[i] = mi;
        v[i] = vi;
        var[i] = wi;
        copy[i] = to_bfloat16(wi);
    }
}

static void adam_slice(void *arg, int64_t from, int64_t to) {
    const AdamWork *w = arg;
    float gs[BLOCK];
    for (int64_t start = from; start < to; start += BLOCK) {
        int64_t n = to - start < BLOCK ? to - start : BLOCK;
        const float *g;
        if (w->type == TF_FLOAT) {
            g = (const float *)w->grad + start;
        } else {
            const uint16_t *x = (const uint16_t *)w->grad + start;
            for (int64_t i = 0; i < n; i++) gs[i] = from_bits((uint32_t)x[i] << 16);
            g = gs;
        }
        adam_float(w->var + start, w->m + start, w->v + start, w->copy + start, g, n, w->alpha, w->beta1, w->beta2,
                   w->epsilon, w->scale, w->shrink);
    }
}

/* TensorFlow copies a variable's buffer before an update when a read still holds it; the copy is ours to make. */
static void copy_tensor(TF_OpKernelContext *ctx, TF_Tensor *source, TF_Tensor *dest) {
    (void)ctx;
    memcpy(TF_TensorData(dest), TF_TensorData(source), TF_TensorByteSize(source));
    TF_DeleteTensor(source);
    TF_DeleteTensor(dest);
}

enum { ADAM_VAR, ADAM_M, ADAM_V, ADAM_COPY, ADAM_BETA1_POWER, ADAM_BETA2_POWER, ADAM_LR, ADAM_BETA1, ADAM_BETA2,
       ADAM_EPSILON, ADAM_SCALE, ADAM_DECAY, ADAM_GRAD };

static float scalar_input(TF_OpKernelContext *ctx, int index, TF_Status *status) {
    TF_Tensor *t = NULL;
    float value = 0.0f;
    TF_GetInput(ctx, index, &t, status);
    if (TF_GetCode(status) == TF_OK) {
        if (TF_TensorType(t) != TF_FLOAT || TF_TensorElementCount(t) != 1) {
            TF_SetStatus(status, TF_INVALID_ARGUMENT, "FinetuneAdam: the hyperparameters are float32 scalars");
        } else {
            value = *(const float *)TF_TensorData(t);
        }
    }
    if (t) TF_DeleteTensor(t);
    return value;
}

static void compute_adam(void *kernel, TF_OpKernelContext *ctx) {
    TF_Status *status = TF_NewStatus();
    float hyper[ADAM_GRAD];
    for (int i = ADAM_BETA1_POWER; i < ADAM_GRAD && TF_GetCode(status) == TF_OK; i++) hyper[i] = scalar_input(ctx, i, status);
    TF_Tensor *grad = NULL, *vars[4] = {NULL, NULL, NULL, NULL};
    TF_VariableInputLockHolder *locks = NULL;
    if (TF_GetCode(status) == TF_OK) TF_GetInput(ctx, ADAM_GRAD, &grad, status);
    if (TF_GetCode(status) == TF_OK) {
        /* Each variable's lock held exclusively, as TensorFlow's dense updates hold it (even without use_locking): the
         * buffers are updated in place, and one a read still holds is copied first (copy_tensor) under that lock. */
        const int inputs[4] = {ADAM_VAR, ADAM_M, ADAM_V, ADAM_COPY};
        TF_MaybeLockVariableInputMutexesInOrder(ctx, 1, 0, inputs, 4, copy_tensor, &locks, status);
        for (int i = 0; i < 4 && TF_GetCode(status) == TF_OK; i++) {
            TF_GetInputTensorFromVariable(ctx, inputs[i], 1, 0, 0, copy_tensor, &vars[i], status);
            if (TF_GetCode(status) == TF_OK && vars[i] == NULL) {
                TF_SetStatus(status, TF_INVALID_ARGUMENT, "FinetuneAdam: a variable could not be read");
            }
        }
    }
    if (TF_GetCode(status) == TF_OK) {
        int64_t n = TF_TensorElementCount(grad);
        int ok = TF_TensorType(vars[0]) == TF_FLOAT && TF_TensorType(vars[1]) == TF_FLOAT
                 && TF_TensorType(vars[2]) == TF_FLOAT && TF_TensorType(vars[3]) == TF_BFLOAT16;
        for (int i = 0; i < 4; i++) ok = ok && TF_TensorElementCount(vars[i]) == n;
        if (!ok) {
            TF_SetStatus(status, TF_INVALID_ARGUMENT,
                         "FinetuneAdam: var, m and v must be float32 and copy bfloat16, each with as many elements as grad"
                         " (uninitialised variables have none)");
        } else if (n > 0) {
            float beta1_power = hyper[ADAM_BETA1_POWER], beta2_power = hyper[ADAM_BETA2_POWER];
            AdamWork work = {TF_TensorData(vars[0]), TF_TensorData(vars[1]), TF_TensorData(vars[2]), TF_TensorData(vars[3]),
                             TF_TensorData(grad), TF_TensorType(grad),
                             hyper[ADAM_LR] * sqrtf(1.0f - beta2_power) / (1.0f - beta1_power),
                             hyper[ADAM_BETA1], hyper[ADAM_BETA2], hyper[ADAM_EPSILON], hyper[ADAM_SCALE],
                             hyper[ADAM_LR] * hyper[ADAM_DECAY]};
            parallel_for(n, *(const int64_t *)kernel, adam_slice, &work);
        }
    }
    if (TF_GetCode(status) != TF_OK) TF_OpKernelContext_Failure(ctx, status);
    for (int i = 0; i < 4; i++) {
        if (vars[i]) TF_DeleteTensor(vars[i]);
    }
    if (locks) TF_ReleaseVariableInputLockHolder(locks);
    if (grad) TF_DeleteTensor(grad);
    TF_DeleteStatus(status);
}

static void scalar_shape(TF_ShapeInferenceContext *ctx, TF_Status *status) {
    TF_ShapeHandle *shape = TF_ShapeInferenceContextScalar(ctx);
    TF_ShapeInferenceContextSetOutput(ctx, 0, shape, status);
    TF_DeleteShapeHandle(shape);
}

static void no_outputs(TF_ShapeInferenceContext *ctx, TF_Status *status) {
    (void)ctx;
    TF_SetStatus(status, TF_OK, "");
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

/* Registers `name`'s CPU kernel for each of `types` (type attribute T). */
static void register_kernel(const char *name, void *(*create)(TF_OpKernelConstruction *),
                            void (*compute)(void *, TF_OpKernelContext *), void (*delete)(void *), TF_Status *status) {
    const TF_DataType types[] = {TF_FLOAT, TF_BFLOAT16};
    for (size_t i = 0; i < sizeof types / sizeof types[0] && TF_GetCode(status) == TF_OK; i++) {
        TF_KernelBuilder *kernel = TF_NewKernelBuilder(name, "CPU", create, compute, delete);
        TF_KernelBuilder_TypeConstraint(kernel, "T", types[i], status);
        if (TF_GetCode(status) == TF_OK) {
            TF_RegisterKernelBuilder(name, kernel, status);
        } else {
            TF_DeleteKernelBuilder(kernel);
        }
    }
}

/* One op of this library: its kernel functions, its definition (attributes, inputs, outputs, each list ending at the
 * first NULL), its shape function, whether it is stateful (it changes variables). */
typedef struct {
    const char *name;
    void *(*create)(TF_OpKernelConstruction *);
    void (*compute)(void *, TF_OpKernelContext *);
    void (*delete)(void *);
    const char *attrs[4], *inputs[16], *outputs[4];
    void (*shapes)(TF_ShapeInferenceContext *, TF_Status *);
    unsigned char stateful;
} OpSpec;

/* Each goes on mixed precision's infer list as it registers: bfloat16 when its input is, which for FinetuneAdam and
 * FinetuneSquaredNorm is the weight gradient a product left in bfloat16. */
static const OpSpec OPS[] = {
    {"FinetuneGelu", create_gelu, compute_gelu, delete_gelu,
     {"T: {float, bfloat16}", "approximate: bool = true", "threads: int = 0"}, {"x: T"}, {"y: T", "dydx: T"},
     gelu_shapes, 0},
    {"FinetuneSquaredNorm", create_threaded, compute_squared_norm, delete_threaded,
     {"T: {float, bfloat16}", "threads: int = 0"}, {"x: T"}, {"sum: float"}, scalar_shape, 0},
    {"FinetuneAdam", create_threaded, compute_adam, delete_threaded,
     {"T: {float, bfloat16}", "threads: int = 0"},
     {"var: resource", "m: resource", "v: resource", "copy: resource", "beta1_power: float", "beta2_power: float",
      "lr: float", "beta1: float", "beta2: float", "epsilon: float", "scale: float", "decay: float", "grad: T"},
     {NULL}, no_outputs, 1},
};

/* Its kernels first, the op last, so that an op TF_LoadLibrary reports has its kernels; then the infer list. */
static void register_op(const OpSpec *spec, TF_Status *status) {
    register_kernel(spec->name, spec->create, spec->compute, spec->delete, status);
    if (TF_GetCode(status) != TF_OK) return;
    TF_OpDefinitionBuilder *op = TF_NewOpDefinitionBuilder(spec->name);
    for (const char *const *attr = spec->attrs; *attr != NULL; attr++) TF_OpDefinitionBuilderAddAttr(op, *attr);
    for (const char *const *input = spec->inputs; *input != NULL; input++) TF_OpDefinitionBuilderAddInput(op, *input);
    for (const char *const *output = spec->outputs; *output != NULL; output++) TF_OpDefinitionBuilderAddOutput(op, *output);
    if (spec->stateful) TF_OpDefinitionBuilderSetIsStateful(op, 1);
    TF_OpDefinitionBuilderSetShapeInferenceFunction(op, spec->shapes);
    TF_RegisterOpDefinition(op, status);
    if (TF_GetCode(status) == TF_OK) add_to_mixed_precision_infer_list(spec->name);
}

/* TF_LoadLibrary collects the ops a library registers while it loads, so registration runs as the library's
 * constructor. What fails to register is absent from what TF_LoadLibrary reports (TrainingKernels then falls back to
 * TensorFlow's ops); one op failing does not stop the others. */
__attribute__((constructor))
static void register_kernels(void) {
    TF_Status *status = TF_NewStatus();
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++) {
        TF_SetStatus(status, TF_OK, "");
        register_op(&OPS[i], status);
    }
    TF_DeleteStatus(status);
}
