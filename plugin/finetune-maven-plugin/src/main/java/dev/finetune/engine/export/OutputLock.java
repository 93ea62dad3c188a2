package dev.finetune.engine.export;

import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on an output folder for the length of a run, so that two builds writing the same
 * {@code target/finetune/} at once are refused instead of interleaved. An OS file lock: a killed build releases it.
 */
public final class OutputLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private OutputLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code output} through the lock file {@code <output>.lock} beside it. */
    public static OutputLock acquire(Path output) {
        Path file = output.toAbsolutePath().resolveSibling(output.getFileName() + ".lock");
        FileChannel channel = null;
        try {
            Files.createDirectories(file.getParent());
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                String holder = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).strip();
                channel.close();
                throw new FineTuneException("Another build is writing " + output + " (lock " + file
                        + (holder.isEmpty() ? "" : ", held by " + holder) + "). Wait for it to finish, or use another outputDirectory.");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(("process " + ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8)));
            return new OutputLock(channel, lock);
        } catch (IOException e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // reporting the first problem
                }
            }
            throw new FineTuneException("Cannot lock " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            throw new FineTuneException("Cannot release the output lock: " + e.getMessage(), e);
        }
    }
}
