package dev.finetune.maven;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.model.Dependency;
import org.apache.maven.model.Parent;
import org.apache.maven.model.Profile;
import org.apache.maven.model.Repository;
import org.apache.maven.model.building.DefaultModelBuilderFactory;
import org.apache.maven.model.building.DefaultModelBuildingRequest;
import org.apache.maven.model.building.FileModelSource;
import org.apache.maven.model.building.ModelBuildingRequest;
import org.apache.maven.model.building.ModelBuildingResult;
import org.apache.maven.model.building.ModelSource;
import org.apache.maven.model.resolution.ModelResolver;
import org.apache.maven.model.resolution.UnresolvableModelException;

/**
 * Builds the effective model of poms with Maven's own model builder, set up as Maven sets it up for a dependency's or
 * a plugin's pom (minimal validation, no plugin processing, the session's user properties among the system
 * properties), and prints the classifier of each {@code tensorflow-core-native} dependency and the active profiles.
 * Run in a JVM of its own, whose {@code os.name}/{@code os.arch} say which platform Maven believes it is on:
 * {@code EffectiveDependencies <local repository> <profile ids, comma-separated, or -> <pom>...}.
 */
public final class EffectiveDependencies {
    private EffectiveDependencies() {
    }

    public static void main(String[] args) throws Exception {
        File repository = new File(args[0]);
        List<String> profiles = args[1].equals("-") ? List.of() : List.of(args[1].split(","));
        for (int i = 2; i < args.length; i++) {
            DefaultModelBuildingRequest request = new DefaultModelBuildingRequest();
            request.setPomFile(new File(args[i]));
            request.setValidationLevel(ModelBuildingRequest.VALIDATION_LEVEL_MINIMAL);
            request.setProcessPlugins(false);
            request.setTwoPhaseBuilding(false);
            request.setSystemProperties(System.getProperties());
            request.setActiveProfileIds(profiles);
            request.setModelResolver(new LocalRepository(repository));
            ModelBuildingResult result = new DefaultModelBuilderFactory().newInstance().build(request);
            List<String> active = new ArrayList<>();
            for (String id : result.getModelIds()) {
                for (Profile p : result.getActivePomProfiles(id)) {
                    active.add(p.getId());
                }
            }
            String artifact = result.getEffectiveModel().getArtifactId();
            System.out.println(artifact + " PROFILES " + active);
            for (Dependency d : result.getEffectiveModel().getDependencies()) {
                if (d.getArtifactId().equals("tensorflow-core-native") && d.getClassifier() != null) {
                    System.out.println(artifact + " CLASSIFIER " + d.getClassifier());
                }
            }
        }
    }

    /** Poms (the parent's parent, imported BOMs) from a local repository; nothing is downloaded. */
    private record LocalRepository(File root) implements ModelResolver {
        @Override
        public ModelSource resolveModel(String groupId, String artifactId, String version) throws UnresolvableModelException {
            File pom = new File(root, groupId.replace('.', '/') + "/" + artifactId + "/" + version + "/" + artifactId + "-" + version + ".pom");
            if (!pom.isFile()) {
                throw new UnresolvableModelException("not in " + root, groupId, artifactId, version);
            }
            return new FileModelSource(pom);
        }

        @Override
        public ModelSource resolveModel(Parent parent) throws UnresolvableModelException {
            return resolveModel(parent.getGroupId(), parent.getArtifactId(), parent.getVersion());
        }

        @Override
        public ModelSource resolveModel(Dependency dependency) throws UnresolvableModelException {
            return resolveModel(dependency.getGroupId(), dependency.getArtifactId(), dependency.getVersion());
        }

        @Override
        public void addRepository(Repository repository) {
        }

        @Override
        public void addRepository(Repository repository, boolean replace) {
        }

        @Override
        public ModelResolver newCopy() {
            return this;
        }
    }
}
