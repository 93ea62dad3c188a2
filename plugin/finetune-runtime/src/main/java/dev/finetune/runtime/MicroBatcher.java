package dev.finetune.runtime;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Gathers single requests from many threads into small batches for one model: a server gets the throughput of
 * batched inference while each caller still asks for one answer. A worker takes the oldest request, adds whatever is
 * already queued, and waits for more only until the oldest has waited {@code maxWait}, or the batch is full. So a
 * request is held at most {@code maxWait} for company; under load, requests that arrive while a batch runs form the
 * next batch and nobody waits for the bound at all.
 */
final class MicroBatcher<I, O> implements AutoCloseable {
    private record Request<I, O>(I input, long arrived, CompletableFuture<O> answer) {
    }

    private final Function<List<I>, List<O>> run;
    private final int maxBatch;
    private final long maxWaitNanos;
    private final LinkedBlockingQueue<Request<I, O>> queue = new LinkedBlockingQueue<>();
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean closed;
    private final BatchListener listener;

    /** Told the size of each batch run, and how long its oldest request waited for it: what tests and metrics read. */
    interface BatchListener {
        void batch(int size, long oldestWaitNanos);
    }

    MicroBatcher(Function<List<I>, List<O>> run, int maxBatch, Duration maxWait, int workers, String name, BatchListener listener) {
        if (maxBatch < 1 || workers < 1 || maxWait.isNegative()) {
            throw new IllegalArgumentException("maxBatch and workers need to be at least 1 and maxWait not negative: "
                    + maxBatch + ", " + workers + ", " + maxWait);
        }
        this.run = run;
        this.maxBatch = maxBatch;
        this.maxWaitNanos = maxWait.toNanos();
        this.listener = listener;
        for (int i = 0; i < workers; i++) {
            Thread t = new Thread(this::loop, name + "-" + i);
            t.setDaemon(true); // an application that forgets close() still exits
            t.start();
            this.workers.add(t);
        }
    }

    /** The answer to {@code input}, computed in a batch with whatever other requests come at the same time. */
    O submit(I input) {
        if (closed) {
            throw new IllegalStateException("This classifier is closed.");
        }
        Request<I, O> r = new Request<>(input, System.nanoTime(), new CompletableFuture<>());
        queue.add(r);
        if (closed) {
            failPending(); // close() may have drained the queue before this request got in
        }
        try {
            return r.answer().get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            r.answer().cancel(false);
            throw new IllegalStateException("Interrupted while waiting for a prediction.", e);
        }
    }

    private void loop() {
        List<Request<I, O>> batch = new ArrayList<>(maxBatch);
        while (!closed) {
            try {
                Request<I, O> first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, maxBatch - batch.size());
                long deadline = first.arrived() + maxWaitNanos;
                while (batch.size() < maxBatch) {
                    long left = deadline - System.nanoTime();
                    Request<I, O> next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : null;
                    if (next == null) {
                        break;
                    }
                    batch.add(next);
                    queue.drainTo(batch, maxBatch - batch.size());
                }
                run(batch);
            } catch (InterruptedException e) {
                break;
            } finally {
                batch.clear();
            }
        }
    }

    private void run(List<Request<I, O>> batch) {
        batch.removeIf(r -> r.answer().isCancelled());
        if (batch.isEmpty()) {
            return;
        }
        if (listener != null) {
            listener.batch(batch.size(), System.nanoTime() - batch.get(0).arrived());
        }
        try {
            List<O> out = run.apply(batch.stream().map(Request::input).toList());
            for (int i = 0; i < batch.size(); i++) {
                batch.get(i).answer().complete(out.get(i));
            }
        } catch (RuntimeException | Error e) {
            batch.forEach(r -> r.answer().completeExceptionally(e));
        }
    }

    private void failPending() {
        for (Request<I, O> r = queue.poll(); r != null; r = queue.poll()) {
            r.answer().completeExceptionally(new IllegalStateException("This classifier was closed before it could answer."));
        }
    }

    /** Stops the workers after the batches they are running; requests still queued fail. */
    @Override
    public void close() {
        closed = true;
        for (Thread t : workers) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        failPending();
    }
}
