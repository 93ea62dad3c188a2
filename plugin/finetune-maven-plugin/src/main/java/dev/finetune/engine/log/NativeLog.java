package dev.finetune.engine.log;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Routes TensorFlow's native log into the build's logger. TensorFlow's C++ code writes its log straight to file
 * descriptor 2, past Java: TF Java's {@code TF_RegisterLogListener} only hears the {@code Print} op, and
 * {@code TF_CPP_MIN_LOG_LEVEL} is read once, while the library loads, and does not reach the lines Abseil writes (such
 * as {@code auto_mixed_precision.cc}). So the process's descriptor 2 is turned into a pipe that a thread reads: each
 * TensorFlow record (both header forms, {@code 2026-12-04 18:49:22.47: I file.cc:83] ...} and Abseil's
 * {@code I0000 00:00:17.18  1669 file.cc:401] ...}, with the lines that continue it) goes to the {@link Sink} by
 * severity; any other line goes on to the real standard error untouched. Outside {@link #route} everything goes to
 * standard error as before.
 * <p>
 * Linux and macOS (libc through JNA, which the tokenizer library already brings); elsewhere, or when the redirect
 * fails, {@link #route} changes nothing. A fatal record is written just before TensorFlow aborts the process, and may
 * then not be read in time; {@code -Dfinetune.nativeLog=stderr} leaves standard error alone to see it.
 */
public final class NativeLog {
    /** Where TensorFlow's records go while a goal runs. */
    public interface Sink {
        /** Information (TensorFlow's I): shown with {@code -X}. */
        void debug(String message);

        void warn(String message);

        /** Errors and fatal errors (E, F). */
        void error(String message);
    }

    /** What {@link #route} returns: closing it waits until every record written so far has been delivered. */
    public interface Routing extends AutoCloseable {
        @Override
        void close();
    }

    private static final Pattern TSL = Pattern.compile("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d+: ([IWEF]) (.*)$");
    // Before absl::InitializeLog (never called in TensorFlow's library) the date is 0000 and the time in epoch seconds.
    private static final Pattern ABSL = Pattern.compile("^([IWEF])\\d{4} \\d\\d:\\d\\d:\\d+\\.\\d+ +\\d+ (.*)$");
    /** Abseil's one line of its own, at the first record: information, not a warning to the user. */
    private static final String ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR";
    private static final String SYNC = "\u0000finetune-native-log-sync ";

    private static NativeLog instance;
    private static boolean unavailable;

    private final LibC libc;
    private final int stderr;
    private final int readEnd;
    private volatile Sink sink;
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong requested = new AtomicLong();

    private interface LibC extends Library {
        int dup(int fd);

        int dup2(int from, int to);

        int pipe(int[] fds);

        NativeLong read(int fd, byte[] buffer, NativeLong count);

        NativeLong write(int fd, byte[] buffer, NativeLong count);

        int close(int fd);
    }

    private NativeLog(LibC libc, int stderr, int readEnd) {
        this.libc = libc;
        this.stderr = stderr;
        this.readEnd = readEnd;
        Thread reader = new Thread(this::readLoop, "finetune-native-log");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Sends TensorFlow's records to {@code sink} until the returned routing is closed. Returns a routing that does
     * nothing where the platform does not allow it; {@code problem} hears why, once.
     */
    public static synchronized Routing route(Sink sink, java.util.function.Consumer<String> problem) {
        NativeLog log = install(problem);
        if (log == null) {
            return () -> {
            };
        }
        log.sink = sink;
        return () -> {
            log.sync();
            log.sink = null;
        };
    }

    private static NativeLog install(java.util.function.Consumer<String> problem) {
        if (instance != null || unavailable) {
            return instance;
        }
        if (!Platform.isLinux() && !Platform.isMac()) {
            unavailable = true;
            problem.accept("TensorFlow's native log is left on standard error on this platform.");
            return null;
        }
        try {
            LibC libc = Native.load(Platform.C_LIBRARY_NAME, LibC.class);
            int saved = libc.dup(2);
            int[] fds = new int[2];
            if (saved < 0 || libc.pipe(fds) != 0) {
                throw new IllegalStateException("dup or pipe failed");
            }
            instance = new NativeLog(libc, saved, fds[0]);
            if (libc.dup2(fds[1], 2) < 0) {
                throw new IllegalStateException("dup2 failed");
            }
            libc.close(fds[1]); // descriptor 2 is now the pipe's only write end
            return instance;
        } catch (RuntimeException | LinkageError e) {
            unavailable = true;
            instance = null;
            problem.accept("TensorFlow's native log stays on standard error: " + e);
            return null;
        }
    }

    /** Writes a marker through descriptor 2 and waits until the reader has passed it: all before it is delivered. */
    private void sync() {
        long n = requested.incrementAndGet();
        byte[] marker = (SYNC + n + "\n").getBytes(StandardCharsets.UTF_8);
        libc.write(2, marker, new NativeLong(marker.length));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        synchronized (delivered) {
            while (delivered.get() < n && System.nanoTime() < deadline) {
                try {
                    delivered.wait(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void readLoop() {
        byte[] buffer = new byte[1 << 16];
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        Record record = null;
        while (true) {
            long n = libc.read(readEnd, buffer, new NativeLong(buffer.length)).longValue();
            if (n <= 0) {
                return;
            }
            // A record's continuation lines come in the same write, so in the same read: a line after an earlier read
            // with no header of its own is someone else's (unless it began in that read).
            boolean sameRead = line.size() > 0;
            for (int i = 0; i < n; i++) {
                if (buffer[i] != '\n') {
                    line.write(buffer[i]);
                    continue;
                }
                String text = line.toString(StandardCharsets.UTF_8);
                try {
                    record = handle(text, record, sameRead);
                } catch (RuntimeException | Error e) {
                    // The reader must never stop: a full pipe would block every writer of standard error, TensorFlow too.
                    record = null;
                    passOn(text);
                }
                sameRead = true;
                line.reset();
            }
            if (line.size() == 0) {
                try {
                    flush(record);
                } catch (RuntimeException | Error e) {
                    passOn(record.raw.toString());
                }
                record = null;
            }
        }
    }

    /** A TensorFlow record being read: its severity and lines. */
    private static final class Record {
        final char severity;
        final StringBuilder text;
        final StringBuilder raw;

        Record(char severity, String text, String raw) {
            this.severity = severity;
            this.text = new StringBuilder(text);
            this.raw = new StringBuilder(raw);
        }

        void add(String line) {
            text.append('\n').append(line);
            raw.append('\n').append(line);
        }
    }

    private Record handle(String text, Record open, boolean sameRead) {
        if (text.startsWith(SYNC)) {
            flush(open);
            long n = Long.parseLong(text.substring(SYNC.length()).strip());
            synchronized (delivered) {
                delivered.set(Math.max(delivered.get(), n));
                delivered.notifyAll();
            }
            return null;
        }
        Matcher m = TSL.matcher(text);
        if (!m.matches()) {
            m = ABSL.matcher(text);
        }
        if (m.matches()) {
            flush(open);
            return new Record(m.group(1).charAt(0), m.group(2), text);
        }
        if (text.equals(ABSL_NOTICE)) {
            flush(open);
            return new Record('I', text, text);
        }
        if (open != null && sameRead) {
            open.add(text);
            return open;
        }
        flush(open);
        passOn(text);
        return null;
    }

    private void flush(Record r) {
        if (r == null) {
            return;
        }
        Sink s = sink;
        String message = "TensorFlow: " + r.text;
        if (s == null) {
            passOn(r.raw.toString());
        } else if (r.severity == 'I') {
            s.debug(message);
        } else if (r.severity == 'W') {
            s.warn(message);
        } else {
            s.error(message);
        }
    }

    private void passOn(String text) {
        byte[] bytes = (text + "\n").getBytes(StandardCharsets.UTF_8);
        libc.write(stderr, bytes, new NativeLong(bytes.length));
    }
}
