package dev.finetune.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256, in hex: what the model jar's index records and the model cache is keyed by. */
public final class Checksums {
    private Checksums() {
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("Every Java has SHA-256", e);
        }
    }

    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    /** The file's SHA-256, read in chunks (a model's weights can be gigabytes). */
    public static String sha256(Path file) throws IOException {
        MessageDigest sha = sha256();
        update(sha, file);
        return HexFormat.of().formatHex(sha.digest());
    }

    /** Adds the file's bytes to {@code digest}, read in chunks (a data file can be larger than memory). */
    public static void update(MessageDigest digest, Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                digest.update(buffer, 0, n);
            }
        }
    }
}
