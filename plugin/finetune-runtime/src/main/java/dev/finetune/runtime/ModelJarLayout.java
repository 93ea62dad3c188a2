package dev.finetune.runtime;

/**
 * Where a model sits inside a model jar, the form in which {@code finetune:package} attaches it for applications to
 * declare as an ordinary dependency. Written by the plugin, read by {@link TextClassifier#load()}; both use these names.
 * <pre>
 * META-INF/finetune/models.list             the names of the models in this jar, one a line
 * META-INF/finetune/models/NAME/index.txt   one line per file: sha-256, size, path (sorted by path)
 * META-INF/finetune/models/NAME/files/...   labels.json, saved_model/, the tokenizer file, ...
 * </pre>
 * The index is what the class path cannot give (a listing of a folder inside a jar) and, hashed, the key of the
 * model's folder in the cache.
 */
public final class ModelJarLayout {
    public static final String LIST = "META-INF/finetune/models.list";
    private static final String ROOT = "META-INF/finetune/models/";

    private ModelJarLayout() {
    }

    public static String index(String name) {
        return ROOT + name + "/index.txt";
    }

    public static String file(String name, String path) {
        return ROOT + name + "/files/" + path;
    }

    /** Model names become resource paths: letters, digits, '.', '_' and '-' only. */
    public static boolean validName(String name) {
        return name != null && name.matches("[A-Za-z0-9][A-Za-z0-9._-]*");
    }
}
