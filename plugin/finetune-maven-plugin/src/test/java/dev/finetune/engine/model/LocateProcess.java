package dev.finetune.engine.model;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A build's unpack in its own JVM, for {@link ModelLocatorTest}: {@code LocateProcess <archive> <cache> <go-file>}.
 * Says READY, waits for the go file so that two processes start unpacking together, then prints what it located.
 */
public final class LocateProcess {
    private LocateProcess() {
    }

    public static void main(String[] args) throws InterruptedException {
        Path go = Path.of(args[2]);
        System.out.println("READY");
        System.out.flush();
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!Files.exists(go)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no go signal");
            }
            Thread.sleep(1);
        }
        System.out.println("LOCATED " + ModelLocator.locate(Path.of(args[0]), Path.of(args[1]), System.out::println));
    }
}
