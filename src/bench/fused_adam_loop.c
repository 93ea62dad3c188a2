/*
 * A plain fused clip + Adam loop over variables of BERT-base's shapes (96.6 M parameters, as
 * src/bench/optimizer_side.py), two threads taking alternate variables: the naive form of the kernel that README's
 * lever table weighs against TensorFlow's ResourceApplyAdam. Prints milliseconds per update, and the memory traffic
 * that implies (28 bytes a parameter: weight, m, v and gradient read, three written).
 *
 *   gcc -O3 -march=native -o /tmp/fused_adam_loop src/bench/fused_adam_loop.c -lpthread -lm && /tmp/fused_adam_loop
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define VARIABLES 50

static long sizes[VARIABLES];
static float *weights[VARIABLES], *ms[VARIABLES], *vs[VARIABLES], *grads[VARIABLES];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One pass: the gradient scaled by the clipping factor, both moments and the weight updated in place. */
static void clipped_adam(float *restrict w, float *restrict m, float *restrict v, const float *restrict g, long n,
                         float scale, float lr, float beta1, float beta2, float epsilon) {
    for (long i = 0; i < n; i++) {
        float gi = g[i] * scale;
        float mi = m[i] + (gi - m[i]) * (1 - beta1);
        float vi = v[i] + (gi * gi - v[i]) * (1 - beta2);
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr * mi / (sqrtf(vi) + epsilon);
    }
}

/* Updates every second variable, starting at the thread's number. */
static void *update(void *thread) {
    for (long k = (long) thread; k < VARIABLES; k += 2) {
        clipped_adam(weights[k], ms[k], vs[k], grads[k], sizes[k], 0.5f, 1e-5f, 0.9f, 0.999f, 1e-6f);
    }
    return NULL;
}

int main(void) {
    long total = 0;
    sizes[0] = 23440896;  /* the word embedding */
    for (int k = 1; k < VARIABLES; k++) {
        sizes[k] = k % 4 == 0 ? 2359296 : 589824 * (k % 4 == 1 ? 4 : 1);
    }
    for (int k = 0; k < VARIABLES; k++) {
        total += sizes[k];
        weights[k] = malloc(4 * sizes[k]);
        ms[k] = malloc(4 * sizes[k]);
        vs[k] = malloc(4 * sizes[k]);
        grads[k] = malloc(4 * sizes[k]);
        for (long i = 0; i < sizes[k]; i++) {
            weights[k][i] = 1;
            ms[k][i] = 0;
            vs[k][i] = 0;
            grads[k][i] = 0.01f * (i % 7);
        }
    }
    printf("%.1f M parameters in %d variables; milliseconds per update, the first round warms up\n", total / 1e6, VARIABLES);
    for (int round = 0; round < 5; round++) {
        double start = now();
        pthread_t a, b;
        pthread_create(&a, NULL, update, (void *) 0);
        pthread_create(&b, NULL, update, (void *) 1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        double seconds = now() - start;
        printf("two threads %6.1f ms (%.1f GB/s)\n", seconds * 1e3, total * 28 / seconds / 1e9);
    }
    return 0;
}
