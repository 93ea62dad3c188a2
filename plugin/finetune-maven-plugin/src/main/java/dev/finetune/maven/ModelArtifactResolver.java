package dev.finetune.maven;

import java.nio.file.Path;
import java.util.List;
import org.apache.maven.plugin.MojoExecutionException;
import org.eclipse.aether.RepositorySystem;
import org.eclipse.aether.RepositorySystemSession;
import org.eclipse.aether.artifact.DefaultArtifact;
import org.eclipse.aether.repository.RemoteRepository;
import org.eclipse.aether.resolution.ArtifactRequest;
import org.eclipse.aether.resolution.ArtifactResolutionException;

/**
 * Resolves a model given as Maven coordinates through Maven's own resolver, so the local repository, mirrors,
 * offline mode, credentials and checksum policy of the user's settings all apply.
 */
final class ModelArtifactResolver {
    private final RepositorySystem system;
    private final RepositorySystemSession session;
    private final List<RemoteRepository> repositories;

    ModelArtifactResolver(RepositorySystem system, RepositorySystemSession session, List<RemoteRepository> repositories) {
        this.system = system;
        this.session = session;
        this.repositories = repositories;
    }

    /** {@code g:a:v}, {@code g:a:ext:v} or {@code g:a:ext:classifier:v}, and not a path that exists. */
    static boolean looksLikeCoordinates(String model) {
        String[] parts = model.split(":");
        return parts.length >= 3 && parts.length <= 5 && !model.contains("/") && !model.contains("\\")
                && java.util.Arrays.stream(parts).noneMatch(String::isBlank);
    }

    Path resolve(String coordinates) throws MojoExecutionException {
        String[] p = coordinates.split(":");
        DefaultArtifact artifact = switch (p.length) {
            case 3 -> new DefaultArtifact(p[0], p[1], "jar", p[2]);
            case 4 -> new DefaultArtifact(p[0], p[1], p[2], p[3]);
            default -> new DefaultArtifact(p[0], p[1], p[3], p[2], p[4]);
        };
        try {
            return system.resolveArtifact(session, new ArtifactRequest(artifact, repositories, "finetune-model"))
                    .getArtifact().getFile().toPath();
        } catch (ArtifactResolutionException e) {
            throw new MojoExecutionException("Cannot resolve model " + coordinates + ": " + e.getMessage(), e);
        }
    }
}
