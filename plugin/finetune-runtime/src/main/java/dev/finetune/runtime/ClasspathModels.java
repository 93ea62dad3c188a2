package dev.finetune.runtime;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeSet;

/** Finds models packed as jars ({@link ModelJarLayout}) on a class path and unpacks them into the {@link ModelCache}. */
final class ClasspathModels {
    private record IndexEntry(String sha256, long size, String path) {
    }

    private ClasspathModels() {
    }

    /** The names of every model on {@code loader}'s class path. */
    static List<String> names(ClassLoader loader) {
        TreeSet<String> names = new TreeSet<>();
        try {
            Enumeration<URL> lists = loader.getResources(ModelJarLayout.LIST);
            while (lists.hasMoreElements()) {
                URL list = lists.nextElement();
                for (String line : lines(list)) {
                    if (!line.isBlank()) {
                        names.add(line.strip());
                    }
                }
            }
        } catch (IOException e) {
            throw new FineTuneException("Cannot list the models on the class path: " + e.getMessage(), e);
        }
        return List.copyOf(names);
    }

    /** The only model on the class path; an error naming them when there are several, or saying how to add one. */
    static String onlyName(ClassLoader loader) {
        List<String> names = names(loader);
        if (names.isEmpty()) {
            throw new FineTuneException("No fine-tuned model on the class path (no " + ModelJarLayout.LIST + "). Add the model "
                    + "jar that finetune:package attaches (classifier 'model') as a dependency, or load a folder with "
                    + "TextClassifier.load(Path).");
        }
        if (names.size() > 1) {
            throw new FineTuneException("There are " + names.size() + " fine-tuned models on the class path, " + names
                    + ": name one, TextClassifier.load(\"" + names.get(0) + "\").");
        }
        return names.get(0);
    }

    /** The folder of model {@code name} in the cache under {@code cacheRoot}, unpacked from the class path if needed. */
    static Path unpack(ClassLoader loader, String name, Path cacheRoot) {
        if (!ModelJarLayout.validName(name)) {
            throw new FineTuneException("'" + name + "' is not a model name: letters, digits, '.', '_' and '-' only.");
        }
        URL index = loader.getResource(ModelJarLayout.index(name));
        if (index == null) {
            throw new FineTuneException("There is no model '" + name + "' on the class path; there are " + names(loader) + ".");
        }
        List<String> lines = lines(index);
        List<IndexEntry> entries = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String[] f = lines.get(i).split(" ", 3);
            if (f.length != 3 || !f[0].matches("[0-9a-f]{64}") || !f[1].matches("[0-9]+") || !safe(f[2])) {
                throw new FineTuneException(index + ", line " + (i + 1) + ": expected 'sha256 size path', found '" + lines.get(i) + "'.");
            }
            entries.add(new IndexEntry(f[0], Long.parseLong(f[1]), f[2]));
        }
        String key = ModelCache.key(name, Checksums.sha256(String.join("\n", lines).getBytes(StandardCharsets.UTF_8)));
        return ModelCache.folder(cacheRoot, key, folder -> {
            for (IndexEntry e : entries) {
                Path target = folder.resolve(e.path());
                Files.createDirectories(target.getParent());
                String resource = ModelJarLayout.file(name, e.path());
                try (InputStream in = loader.getResourceAsStream(resource)) {
                    if (in == null) {
                        throw new IOException(index + " lists " + e.path() + " but the class path has no " + resource);
                    }
                    MessageDigest sha = Checksums.sha256();
                    long size = Files.copy(new DigestInputStream(in, sha), target);
                    String actual = HexFormat.of().formatHex(sha.digest());
                    if (size != e.size() || !actual.equals(e.sha256())) {
                        throw new IOException(resource + " has " + size + " bytes with sha-256 " + actual + ", but the index says "
                                + e.size() + " bytes with " + e.sha256() + ": the model jar is damaged");
                    }
                }
            }
        });
    }

    /** No absolute paths and no way out of the model's folder. */
    private static boolean safe(String path) {
        return !path.isEmpty() && !path.startsWith("/") && !path.contains("\\") && !path.contains(":")
                && List.of(path.split("/")).stream().noneMatch(p -> p.isEmpty() || p.equals(".") || p.equals(".."));
    }

    private static List<String> lines(URL url) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(url.openStream(), StandardCharsets.UTF_8))) {
            return r.lines().filter(l -> !l.isEmpty()).toList();
        } catch (IOException e) {
            throw new FineTuneException("Cannot read " + url + ": " + e.getMessage(), e);
        }
    }
}
