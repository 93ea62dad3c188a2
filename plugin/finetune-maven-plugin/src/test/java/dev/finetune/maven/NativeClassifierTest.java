package dev.finetune.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which TensorFlow native jar ({@code tensorflow-core-native}'s classifier) each platform gets from the runtime's and
 * the plugin's poms as they are installed and published (the profiles live in their parent). A consumer's Maven builds
 * these poms' models on its own machine when it resolves the runtime as a dependency or the plugin for a build; this
 * test does the same with Maven's model builder in a JVM that reports another platform's {@code os.name} and
 * {@code os.arch}, as that platform's Java does. It asserts on the effective model rather than resolving the jars:
 * each is 130 to 530 MB, and the classifier in the model is exactly what resolution fetches. (A whole {@code mvn} under
 * a false {@code os.name} cannot stand in: Debian's Maven then calls Windows' console API and dies.)
 */
class NativeClassifierTest {
    /** What TF Java 1.1.0 publishes on Maven Central (each checked with an HTTP HEAD); nothing for Intel Macs. */
    static final List<String> PUBLISHED = List.of("linux-x86_64", "linux-x86_64-gpu", "linux-arm64", "macosx-arm64", "windows-x86_64");

    private static final List<Path> POMS = List.of(Path.of("pom.xml"), Path.of("..", "finetune-runtime", "pom.xml"));

    @Test
    void eachPlatformGetsItsOwnNatives() throws Exception {
        assertClassifier("linux-x86_64", "Linux", "amd64");
        assertClassifier("linux-arm64", "Linux", "aarch64");
        assertClassifier("macosx-arm64", "Mac OS X", "aarch64");
        assertClassifier("windows-x86_64", "Windows 11", "amd64");
        assertClassifier("windows-x86_64", "Windows Server 2022", "amd64");
    }

    /** An Intel Mac (or any platform TF Java does not ship) asks for a jar named after it: the error says which is missing. */
    @Test
    void aPlatformWithoutNativesNamesItself() throws Exception {
        String classifier = classifier(List.of("-Dos.name=Mac OS X", "-Dos.arch=x86_64"), "-");
        assertEquals("Mac OS X-x86_64", classifier);
        assertTrue(!PUBLISHED.contains(classifier));
    }

    /** -Dtensorflow.native.classifier=... picks the jar for this build and for a consumer's (e.g. the GPU one). */
    @Test
    void thePropertyOverridesThePlatform() throws Exception {
        assertEquals("linux-x86_64-gpu", classifier(List.of("-Dos.name=Linux", "-Dos.arch=amd64",
                "-Dtensorflow.native.classifier=linux-x86_64-gpu"), "-"));
        assertEquals("linux-x86_64", classifier(List.of("-Dos.name=Mac OS X", "-Dos.arch=aarch64",
                "-Dtensorflow.native.classifier=linux-x86_64"), "-"));
    }

    /** This project built with -Pgpu. */
    @Test
    void theGpuProfileStillSelectsTheGpuBuild() throws Exception {
        assertEquals("linux-x86_64-gpu", classifier(List.of("-Dos.name=Linux", "-Dos.arch=amd64"), "gpu"));
    }

    private static void assertClassifier(String expected, String osName, String osArch) throws Exception {
        assertTrue(PUBLISHED.contains(expected), expected);
        assertEquals(expected, classifier(List.of("-Dos.name=" + osName, "-Dos.arch=" + osArch), "-"), osName + " " + osArch);
    }

    /** The classifier both poms give on the JVM started with {@code options}; fails when they differ. */
    private static String classifier(List<String> options, String profiles) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(options);
        command.addAll(List.of("-Xmx128m", "-cp", System.getProperty("java.class.path"), EffectiveDependencies.class.getName(),
                System.getProperty("finetune.localRepository"), profiles));
        POMS.forEach(p -> command.add(p.toAbsolutePath().toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        List<String> classifiers = out.lines().filter(l -> l.contains(" CLASSIFIER ")).toList();
        assertEquals(2, classifiers.size(), out);
        String first = classifiers.get(0).substring(classifiers.get(0).indexOf(" CLASSIFIER ") + 12);
        String second = classifiers.get(1).substring(classifiers.get(1).indexOf(" CLASSIFIER ") + 12);
        assertEquals(first, second, "the plugin and the runtime disagree:\n" + out);
        return first;
    }
}
