package dev.finetune.engine.training;

import dev.finetune.runtime.encoding.Batch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One optimizer step over an effective batch (this worker's shard of it, in a cluster), run as micro-batches of at most
 * {@code microRows} rows (gradient accumulation): so batchSize × N examples form one step at the memory of batchSize.
 * Every micro-batch is padded only to its own longest row. The effective batch is cut here, after the epoch's shuffling
 * and length bucketing made it, so N = 2 at batch 8 sees the very batches that N = 1 at batch 16 sees, and takes the
 * same steps. With replicas or workers the micro-batches' contributions are summed and combined by the last one's step
 * (see {@link GradientAccumulators}); workers' shards of a short last step may have different numbers of micro-batches.
 */
final class AccumulatedStep {
    private final ClassifierSession session;
    private final int microRows;

    AccumulatedStep(ClassifierSession session, int microRows) {
        this.session = session;
        this.microRows = microRows;
    }

    /**
     * The step on {@code batch} ({@code real} false: a worker's stand-in that weighs nothing, one row); its loss is the
     * whole batch's (the micro-batches' losses by their shares, or the combined one), its norm the whole gradient's.
     */
    ClassifierSession.StepResult run(Batch batch, boolean real, float learningRate, long step, double beta1, double beta2) {
        session.startStep(step);
        if (!session.accumulates() || !real) {
            return session.train(batch, real, learningRate, step, beta1, beta2);
        }
        List<Batch> parts = split(batch, microRows);
        if (session.accumulatesContributions()) {
            for (Batch part : parts.subList(0, parts.size() - 1)) {
                session.accumulate(part);
            }
            return session.train(parts.get(parts.size() - 1), true, learningRate, step, beta1, beta2);
        }
        double[] shares = shares(parts);
        double loss = 0;
        int last = parts.size() - 1;
        for (int i = 0; i < last; i++) {
            loss += shares[i] * session.accumulate(parts.get(i), (float) shares[i]);
        }
        ClassifierSession.StepResult r = session.train(parts.get(last), (float) shares[last], learningRate, step, beta1, beta2);
        loss += shares[last] * r.loss();
        return new ClassifierSession.StepResult((float) loss, r.gradientNorm());
    }

    /**
     * Each micro-batch's part of the whole: what its loss averages over (labelled words for token classification, rows
     * otherwise) over the whole's. The mean of the whole is then the sum of the parts' means times their shares.
     */
    static double[] shares(List<Batch> parts) {
        double[] units = new double[parts.size()];
        double total = 0;
        for (int i = 0; i < units.length; i++) {
            Batch b = parts.get(i);
            units[i] = b.tokenLabels() == null ? b.rows() : Arrays.stream(b.tokenLabels()).filter(t -> t >= 0).count();
            total += units[i];
        }
        for (int i = 0; i < units.length; i++) {
            // A batch without a labelled word has a loss of 0 in every part: any shares will do.
            units[i] = total > 0 ? units[i] / total : 1.0 / units.length;
        }
        return units;
    }

    /** {@code batch} cut into runs of {@code rows} rows, each trimmed to its longest row (its last unmasked position). */
    static List<Batch> split(Batch batch, int rows) {
        List<Batch> out = new ArrayList<>();
        for (int from = 0; from < batch.rows(); from += rows) {
            int to = Math.min(batch.rows(), from + rows);
            int length = 1;
            for (int i = from; i < to; i++) {
                for (int t = batch.length() - 1; t >= length; t--) {
                    if (batch.inputMask()[i * batch.length() + t] != 0) {
                        length = t + 1;
                        break;
                    }
                }
            }
            out.add(slice(batch, from, to, length));
        }
        return out;
    }

    private static Batch slice(Batch b, int from, int to, int length) {
        int n = to - from;
        int[] ids = new int[n * length];
        int[] mask = new int[n * length];
        int[] segments = new int[n * length];
        int[] tokenLabels = b.tokenLabels() == null ? null : new int[n * length];
        for (int i = 0; i < n; i++) {
            int src = (from + i) * b.length();
            System.arraycopy(b.inputIds(), src, ids, i * length, length);
            System.arraycopy(b.inputMask(), src, mask, i * length, length);
            System.arraycopy(b.segmentIds(), src, segments, i * length, length);
            if (tokenLabels != null) {
                System.arraycopy(b.tokenLabels(), src, tokenLabels, i * length, length);
            }
        }
        int[] labels = b.labels() == null ? null : Arrays.copyOfRange(b.labels(), from, to);
        float[] targets = null;
        if (b.targets() != null) {
            int width = b.targets().length / b.rows();
            targets = Arrays.copyOfRange(b.targets(), from * width, to * width);
        }
        return new Batch(n, length, ids, mask, segments, labels, targets, tokenLabels);
    }
}
