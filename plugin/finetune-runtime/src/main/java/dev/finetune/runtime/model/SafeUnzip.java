package dev.finetune.runtime.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Zip extraction that refuses entries escaping the target folder ("zip slip") and stops at a number of entries
 * and a total size no real model needs (a "zip bomb" would otherwise fill the disk).
 */
public final class SafeUnzip {
    public static final int MAX_ENTRIES = 10_000;
    public static final long MAX_BYTES = 16L << 30;

    private SafeUnzip() {
    }

    public static void unzip(Path archive, Path into) throws IOException {
        unzip(archive, into, MAX_ENTRIES, MAX_BYTES);
    }

    public static void unzip(Path archive, Path into, int maxEntries, long maxBytes) throws IOException {
        Path root = into.toAbsolutePath().normalize();
        Files.createDirectories(root);
        int entries = 0;
        long total = 0;
        byte[] buffer = new byte[1 << 16];
        try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(archive))) {
            for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                if (++entries > maxEntries) {
                    throw new ModelException("Archive " + archive + " has more than " + maxEntries
                            + " entries; refusing to unpack it (no model needs that many files).");
                }
                Path out = root.resolve(e.getName()).normalize();
                if (!out.startsWith(root) || out.equals(root)) {
                    throw new ModelException("Archive " + archive + " has entry '" + e.getName()
                            + "', which would be written outside " + root + "; refusing to unpack it.");
                }
                if (e.isDirectory()) {
                    Files.createDirectories(out);
                    continue;
                }
                Files.createDirectories(out.getParent());
                try (var os = Files.newOutputStream(out)) {
                    for (int n = zip.read(buffer); n > 0; n = zip.read(buffer)) {
                        total += n;
                        if (total > maxBytes) {
                            throw new ModelException("Archive " + archive + " unpacks to more than " + (maxBytes >> 20)
                                    + " MiB; refusing to unpack further.");
                        }
                        os.write(buffer, 0, n);
                    }
                }
            }
        }
    }
}
