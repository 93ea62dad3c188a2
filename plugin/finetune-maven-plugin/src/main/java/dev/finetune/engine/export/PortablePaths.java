package dev.finetune.engine.export;

import java.nio.file.Path;

/**
 * Paths as the model's records give them: relative to the project, with '/', so that a model built in another folder
 * (or on another machine) records the same bytes and does not tell where it was built.
 */
public final class PortablePaths {
    private PortablePaths() {
    }

    /** {@code path} relative to {@code project}; as it is when there is no project or it lies on another drive. */
    public static String relative(Path path, Path project) {
        if (project == null) {
            return path.toString();
        }
        Path base = project.toAbsolutePath().normalize();
        Path p = path.toAbsolutePath().normalize();
        if (!p.getRoot().equals(base.getRoot())) {
            return p.toString();
        }
        String r = base.relativize(p).toString().replace('\\', '/');
        return r.isEmpty() ? "." : r;
    }
}
