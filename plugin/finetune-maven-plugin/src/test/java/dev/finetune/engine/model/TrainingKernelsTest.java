package dev.finetune.engine.model;

import static dev.finetune.engine.TestFiles.bfloat16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.finetune.runtime.model.LoadedGraph;
import dev.finetune.runtime.model.ServingSignature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TType;

/** The plugin's own training kernels ({@code src/main/c/finetune_kernels.c}) against TensorFlow's and plain Java arithmetic. */
class TrainingKernelsTest {
    /** Enough elements for one slice per core and a last block shorter than the kernel's 1,024. */
    private static final int N = 3 * (1 << 16) + 777;

    /** Where the build compiles the kernels (the pom's training-kernels profile): there they must load. */
    static boolean built() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        return os.startsWith("linux") && arch.equals("amd64") && Files.exists(Path.of("/usr/bin/gcc"));
    }

    @Test
    void loadWhereTheBuildCompiledThem() {
        assumeTrue(built(), "the build compiles the kernels on Linux x86-64 with gcc only");
        assertTrue(TrainingKernels.available(), TrainingKernels.unavailable());
    }

    @Test
    void fuseOpsFalseTurnsThemOff() {
        String before = System.getProperty(LoadedGraph.FUSING);
        System.setProperty(LoadedGraph.FUSING, "false");
        try {
            assertFalse(TrainingKernels.available());
            assertEquals(LoadedGraph.FUSING + " is false", TrainingKernels.unavailable());
        } finally {
            if (before == null) {
                System.clearProperty(LoadedGraph.FUSING);
            } else {
                System.setProperty(LoadedGraph.FUSING, before);
            }
        }
    }

    /** GELU and its derivative in double, from the tanh form (not the kernel's sigmoid form). */
    private static double[] gelu(double x) {
        double c = Math.sqrt(2 / Math.PI);
        double t = Math.tanh(c * (x + 0.044715 * x * x * x));
        return new double[] {0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)};
    }

    private static float[] inputs() {
        Random random = new Random(7);
        float[] x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) (random.nextGaussian() * 3);
        }
        // The tails, where the exponential is clamped, and the special values.
        float[] special = {0f, -0f, 1e-30f, -1e-30f, 20f, -20f, 100f, -100f, 1e4f, -1e4f, Float.NaN};
        System.arraycopy(special, 0, x, 0, special.length);
        return x;
    }

    /** Exact GELU and its derivative in double: x Phi(x) and Phi(x) + x phi(x), Phi from TensorFlow's double erfc. */
    private static double[][] exactGelu(float[] x) {
        double[] xs = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            xs[i] = -x[i] / Math.sqrt(2);
        }
        double[] erfc;
        try (Graph g = new Graph(); Session s = new Session(g); TFloat64 in = TFloat64.tensorOf(StdArrays.ndCopyOf(xs))) {
            Ops tf = Ops.create(g);
            Placeholder<TFloat64> p = tf.placeholder(TFloat64.class);
            try (Result r = s.runner().feed(p, in).fetch(tf.math.erfc(p)).run()) {
                TFloat64 out = (TFloat64) r.get(0);
                erfc = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    erfc[i] = out.getDouble(i);
                }
            }
        }
        double[][] out = new double[2][x.length];
        for (int i = 0; i < x.length; i++) {
            double cdf = 0.5 * erfc[i];
            out[0][i] = x[i] * cdf;
            out[1][i] = cdf + x[i] * Math.exp(-0.5 * x[i] * x[i]) / Math.sqrt(2 * Math.PI);
        }
        return out;
    }

    /** The kernel's two outputs, as float32, on x given in {@code type}, the tanh form. */
    private static float[][] run(float[] x, Class<? extends TType> type) {
        return run(x, type, true);
    }

    /** The kernel's two outputs, as float32, on x given in {@code type}, on as many threads as it takes. */
    private static float[][] run(float[] x, Class<? extends TType> type, boolean approximate) {
        return run(x, type, approximate, 0);
    }

    /** The kernel's two outputs, as float32, on x given in {@code type}, on at most {@code threads} (0: the CPUs it may use). */
    private static float[][] run(float[] x, Class<? extends TType> type, boolean approximate, int threads) {
        assumeTrue(TrainingKernels.available(), "no training kernels on this platform");
        try (Graph g = new Graph(); Session s = new Session(g); TFloat32 in = TFloat32.tensorOf(StdArrays.ndCopyOf(x))) {
            Ops tf = Ops.create(g);
            Placeholder<TFloat32> p = tf.withName("x").placeholder(TFloat32.class);
            Operand<?> typed = type == TFloat32.class ? p : tf.dtypes.cast(p, TBfloat16.class);
            GraphOperation k = g.opBuilder(TrainingKernels.GELU, "gelu", tf.scope()).addInput(typed.asOutput())
                    .setAttr("approximate", approximate).setAttr("threads", threads).build();
            Operand<TFloat32> y = tf.dtypes.cast(k.output(0), TFloat32.class);
            Operand<TFloat32> d = tf.dtypes.cast(k.output(1), TFloat32.class);
            try (Result r = s.runner().feed(p, in).fetch(y).fetch(d).run()) {
                return new float[][] {ServingSignature.floats(r.get(0)), ServingSignature.floats(r.get(1))};
            }
        }
    }

    @Test
    void float32IsTheGeluAndItsDerivative() {
        float[] x = inputs();
        float[][] out = run(x, TFloat32.class);
        for (int i = 0; i < N; i++) {
            if (Float.isNaN(x[i])) {
                assertTrue(Float.isNaN(out[0][i]) && Float.isNaN(out[1][i]), "NaN in, NaN out");
                continue;
            }
            double[] expected = gelu(x[i]);
            assertEquals(expected[0], out[0][i], 1e-6 * Math.max(1, Math.abs(expected[0])), "gelu(" + x[i] + ")");
            assertEquals(expected[1], out[1][i], 2e-6 * Math.max(1, Math.abs(expected[1])), "gelu'(" + x[i] + ")");
        }
    }

    /** The exact form keeps its relative precision in the lower tail, where x Phi(x) is tiny but not 0. */
    @Test
    void float32IsTheExactGeluAndItsDerivative() {
        float[] x = inputs();
        float[][] out = run(x, TFloat32.class, false);
        double[][] expected = exactGelu(x);
        for (int i = 0; i < N; i++) {
            if (Float.isNaN(x[i])) {
                assertTrue(Float.isNaN(out[0][i]) && Float.isNaN(out[1][i]), "NaN in, NaN out");
                continue;
            }
            double y = expected[0][i];
            // Relative to the value: the exponent -x^2/2 is rounded in float32, so in the tail the error grows with x^2.
            double relative = 2e-6 * Math.max(1, x[i] * x[i] / 16);
            assertEquals(y, out[0][i], Math.max(relative * Math.abs(y), 1e-30), "gelu(" + x[i] + ")");
            assertEquals(expected[1][i], out[1][i], 2e-6 * Math.max(1, Math.abs(expected[1][i])), "gelu'(" + x[i] + ")");
        }
    }

    /** bfloat16 is computed in float32 and rounded to nearest even, as TensorFlow's casts round; both forms. */
    @ParameterizedTest(name = "approximate {0}")
    @ValueSource(booleans = {true, false})
    void bfloat16IsTheFloat32ResultRounded(boolean approximate) {
        float[] x = inputs();
        float[] widened = new float[N];
        for (int i = 0; i < N; i++) {
            widened[i] = bfloat16(x[i]);
        }
        float[][] exact = run(widened, TFloat32.class, approximate);
        float[][] rounded = run(x, TBfloat16.class, approximate);
        for (int i = 0; i < N; i++) {
            assertEquals(bfloat16(exact[0][i]), rounded[0][i], "gelu(" + widened[i] + ")");
            assertEquals(bfloat16(exact[1][i]), rounded[1][i], "gelu'(" + widened[i] + ")");
        }
    }

    /** Slices are independent: one thread or several give the same bits. */
    @Test
    void threadsChangeNothingButTheTime() {
        float[] x = inputs();
        for (boolean approximate : new boolean[] {true, false}) {
            float[][] one = run(x, TBfloat16.class, approximate, 1);
            float[][] four = run(x, TBfloat16.class, approximate, 4);
            assertArrayEquals(one[0], four[0]);
            assertArrayEquals(one[1], four[1]);
        }
    }

    @Test
    void emptyAndScalarTensors() {
        assumeTrue(TrainingKernels.available(), "no training kernels on this platform");
        try (Graph g = new Graph(); Session s = new Session(g)) {
            Ops tf = Ops.create(g);
            GraphOperation empty = g.opBuilder(TrainingKernels.GELU, "empty", tf.scope())
                    .addInput(tf.zeros(tf.constant(new long[] {0, 3}), TFloat32.class).asOutput()).build();
            GraphOperation scalar = g.opBuilder(TrainingKernels.GELU, "scalar", tf.scope()).addInput(tf.constant(1f).asOutput()).build();
            try (Result r = s.runner().fetch(empty.output(0)).fetch(empty.output(1)).fetch(scalar.output(0)).fetch(scalar.output(1)).run()) {
                assertEquals(0, r.get(0).shape().size());
                assertArrayEquals(new long[] {0, 3}, r.get(1).shape().asArray());
                assertEquals(0, r.get(2).shape().numDimensions());
                double[] expected = gelu(1);
                assertEquals(expected[0], ((TFloat32) r.get(2)).getFloat(), 1e-6);
                assertEquals(expected[1], ((TFloat32) r.get(3)).getFloat(), 2e-6);
            }
        }
    }

    /** FinetuneSquaredNorm: the sum of squares, against a sum in double, of float32 and bfloat16 tensors. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void squaredNormIsTheSumOfSquares(boolean bfloat16) {
        assumeTrue(TrainingKernels.available(), "no training kernels on this platform");
        float[] x = new float[N];
        Random r = new Random(3);
        double expected = 0;
        for (int i = 0; i < N; i++) {
            x[i] = (float) (r.nextGaussian() * Math.exp(r.nextGaussian() * 3));
            if (bfloat16) {
                x[i] = bfloat16(x[i]);
            }
            expected += (double) x[i] * x[i];
        }
        try (Graph g = new Graph(); Session s = new Session(g); TFloat32 in = TFloat32.tensorOf(StdArrays.ndCopyOf(x))) {
            Ops tf = Ops.create(g);
            Placeholder<TFloat32> p = tf.placeholder(TFloat32.class);
            Operand<?> typed = bfloat16 ? tf.dtypes.cast(p, TBfloat16.class) : p;
            GraphOperation sum = g.opBuilder(TrainingKernels.SQUARED_NORM, "sum", tf.scope()).addInput(typed.asOutput())
                    .setAttr("threads", 2).build();
            GraphOperation empty = g.opBuilder(TrainingKernels.SQUARED_NORM, "empty", tf.scope())
                    .addInput(tf.zeros(tf.constant(new long[] {0}), TFloat32.class).asOutput()).build();
            try (Result out = s.runner().feed(p, in).fetch(sum.output(0)).fetch(empty.output(0)).run()) {
                assertEquals(0, out.get(0).shape().numDimensions());
                assertEquals(expected, ((TFloat32) out.get(0)).getFloat(), 1e-6 * expected);
                assertEquals(0f, ((TFloat32) out.get(1)).getFloat());
            }
        }
    }

    /**
     * FinetuneAdam against TensorFlow's ResourceApplyAdam on the gradient times the scale, with the decay taken first as
     * AdamW does, over three steps: the weights and both moments to a float32 rounding, the copy exactly the weights
     * rounded to bfloat16; a bfloat16 gradient is the float32 one rounded.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void adamIsTensorFlowsAdamAndWritesTheCopy(boolean bfloat16Gradient) {
        assumeTrue(TrainingKernels.available(), "no training kernels on this platform");
        long[] shape = {N / 7, 7};
        int n = (int) (shape[0] * shape[1]);
        Random r = new Random(5);
        float[] w0 = new float[n];
        for (int i = 0; i < n; i++) {
            w0[i] = (float) (r.nextGaussian() * 0.05);
        }
        float lr = 1e-3f, lambda = 0.01f, scale = 0.37f;
        try (Graph g = new Graph(); Session s = new Session(g)) {
            Ops tf = Ops.create(g);
            org.tensorflow.ndarray.Shape sh = org.tensorflow.ndarray.Shape.of(shape);
            Operand<?>[] ours = {variable(tf, "w", TFloat32.class, sh), variable(tf, "m", TFloat32.class, sh), variable(tf, "v", TFloat32.class, sh)};
            Operand<?> copy = variable(tf, "copy", TBfloat16.class, sh);
            Operand<?>[] theirs = {variable(tf, "tw", TFloat32.class, sh), variable(tf, "tm", TFloat32.class, sh), variable(tf, "tv", TFloat32.class, sh)};
            Operand<TFloat32> start = tf.reshape(tf.constant(w0), tf.constant(shape));
            Operand<TFloat32> zeros = tf.zeros(tf.constant(shape), TFloat32.class);
            var init = List.of(tf.assignVariableOp(ours[0], start), tf.assignVariableOp(ours[1], zeros), tf.assignVariableOp(ours[2], zeros),
                    tf.assignVariableOp(copy, tf.zeros(tf.constant(shape), TBfloat16.class)),
                    tf.assignVariableOp(theirs[0], start), tf.assignVariableOp(theirs[1], zeros), tf.assignVariableOp(theirs[2], zeros));
            Placeholder<TFloat32> grad = tf.placeholder(TFloat32.class, Placeholder.shape(sh));
            Placeholder<TFloat32> p1 = tf.placeholder(TFloat32.class);
            Placeholder<TFloat32> p2 = tf.placeholder(TFloat32.class);
            Operand<TFloat32> fed = bfloat16Gradient ? tf.dtypes.cast(tf.dtypes.cast(grad, TBfloat16.class), TFloat32.class) : grad;
            Operand<?> typed = bfloat16Gradient ? tf.dtypes.cast(grad, TBfloat16.class) : grad;
            var b = g.opBuilder(TrainingKernels.ADAM, "adam", tf.scope());
            for (Operand<?> in : List.of(ours[0], ours[1], ours[2], copy, p1, p2, tf.constant(lr), tf.constant(0.9f), tf.constant(0.999f),
                    tf.constant(1e-6f), tf.constant(scale), tf.constant(lambda), typed)) {
                b.addInput(in.asOutput());
            }
            GraphOperation adam = b.setAttr("threads", 2).build();
            var decay = tf.assignSubVariableOp(theirs[0], tf.math.mul(tf.constant(lr * lambda), tf.readVariableOp(theirs[0], TFloat32.class)));
            var reference = tf.withControlDependencies(List.of(decay)).train.resourceApplyAdam(theirs[0], theirs[1], theirs[2], p1, p2,
                    tf.constant(lr), tf.constant(0.9f), tf.constant(0.999f), tf.constant(1e-6f), tf.math.mul(fed, tf.constant(scale)));
            var runner = s.runner();
            init.forEach(runner::addTarget);
            runner.run();
            for (int step = 1; step <= 3; step++) {
                float[] gv = new float[n];
                for (int i = 0; i < n; i++) {
                    gv[i] = (float) (r.nextGaussian() * 0.1);
                }
                try (TFloat32 gt = TFloat32.tensorOf(sh, d -> d.copyFrom(org.tensorflow.ndarray.buffer.DataBuffers.of(gv, true, false)));
                     TFloat32 b1 = TFloat32.scalarOf((float) Math.pow(0.9, step));
                     TFloat32 b2 = TFloat32.scalarOf((float) Math.pow(0.999, step))) {
                    s.runner().feed(grad, gt).feed(p1, b1).feed(p2, b2).addTarget(adam).addTarget(reference).run();
                }
            }
            try (Result out = s.runner().fetch(tf.readVariableOp(ours[0], TFloat32.class)).fetch(tf.readVariableOp(ours[1], TFloat32.class))
                    .fetch(tf.readVariableOp(ours[2], TFloat32.class)).fetch(tf.dtypes.cast(tf.readVariableOp(copy, TBfloat16.class), TFloat32.class))
                    .fetch(tf.readVariableOp(theirs[0], TFloat32.class)).fetch(tf.readVariableOp(theirs[1], TFloat32.class))
                    .fetch(tf.readVariableOp(theirs[2], TFloat32.class)).run()) {
                float[] w = ServingSignature.floats(out.get(0));
                float[] copied = ServingSignature.floats(out.get(3));
                String[] names = {"weights", "first moment", "second moment"};
                for (int k = 0; k < 3; k++) {
                    float[] ourValues = ServingSignature.floats(out.get(k));
                    float[] theirValues = ServingSignature.floats(out.get(4 + k));
                    for (int i = 0; i < n; i++) {
                        // Weights: a few roundings of a weight near 0.05 (an ulp is 4e-9), where the update may cancel it.
                        assertEquals(theirValues[i], ourValues[i], 4e-7 * Math.abs(theirValues[i]) + (k == 0 ? 2e-8 : 1e-12),
                                names[k] + " [" + i + "]");
                    }
                }
                for (int i = 0; i < n; i++) {
                    assertEquals(Float.floatToIntBits(bfloat16(w[i])), Float.floatToIntBits(copied[i]), "copy [" + i + "]");
                }
            }
        }
    }

    /** A copy of another shape than the weight is refused with a message that says what is wrong, and nothing changes. */
    @Test
    void adamRefusesMismatchedVariables() {
        assumeTrue(TrainingKernels.available(), "no training kernels on this platform");
        try (Graph g = new Graph(); Session s = new Session(g)) {
            Ops tf = Ops.create(g);
            org.tensorflow.ndarray.Shape sh = org.tensorflow.ndarray.Shape.of(4);
            Operand<?> w = variable(tf, "w", TFloat32.class, sh), m = variable(tf, "m", TFloat32.class, sh), v = variable(tf, "v", TFloat32.class, sh);
            Operand<?> copy = variable(tf, "copy", TBfloat16.class, org.tensorflow.ndarray.Shape.of(3));
            Operand<TFloat32> ones = tf.constant(new float[] {1, 2, 3, 4});
            s.runner().addTarget(tf.assignVariableOp(w, ones)).addTarget(tf.assignVariableOp(m, ones)).addTarget(tf.assignVariableOp(v, ones))
                    .addTarget(tf.assignVariableOp(copy, tf.dtypes.cast(tf.constant(new float[] {0, 0, 0}), TBfloat16.class))).run();
            var b = g.opBuilder(TrainingKernels.ADAM, "adam", tf.scope());
            for (Operand<?> in : List.of(w, m, v, copy, tf.constant(0.9f), tf.constant(0.999f), tf.constant(1e-3f), tf.constant(0.9f),
                    tf.constant(0.999f), tf.constant(1e-6f), tf.constant(1f), tf.constant(0f), ones)) {
                b.addInput(in.asOutput());
            }
            GraphOperation adam = b.build();
            var e = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> s.runner().addTarget(adam).run());
            assertTrue(e.getMessage().contains("FinetuneAdam: var, m and v must be float32 and copy bfloat16"), e.getMessage());
            try (Result out = s.runner().fetch(tf.readVariableOp(w, TFloat32.class)).run()) {
                assertArrayEquals(new float[] {1, 2, 3, 4}, ServingSignature.floats(out.get(0)));
            }
        }
    }

    private static <T extends TType> Operand<?> variable(Ops tf, String name, Class<T> type, org.tensorflow.ndarray.Shape shape) {
        return tf.withName(name).varHandleOp(type, shape, org.tensorflow.op.core.VarHandleOp.sharedName(name));
    }

}
