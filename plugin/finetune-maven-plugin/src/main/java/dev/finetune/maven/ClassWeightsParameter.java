package dev.finetune.maven;

import dev.finetune.engine.config.ClassWeights;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.plugin.MojoExecutionException;
import org.codehaus.plexus.component.configurator.expression.ExpressionEvaluationException;
import org.codehaus.plexus.component.configurator.expression.ExpressionEvaluator;
import org.codehaus.plexus.configuration.PlexusConfiguration;

/**
 * Reads {@code classWeights} in both of its pom forms, a word ({@code <classWeights>auto</classWeights>}, also from
 * {@code -Dfinetune.classWeights}) and a weight per label ({@code <classWeights><spam>3.0</spam></classWeights>}),
 * into the one text form of {@link ClassWeights}. Why the raw configuration: Maven converts a parameter either from a
 * text or from child elements (a Map cannot take a text, a String cannot take children), and this one takes both.
 * Maven leaves a raw configuration unevaluated, so its expressions (the property) are evaluated here.
 */
final class ClassWeightsParameter {
    private ClassWeightsParameter() {
    }

    /** {@code none}, {@code auto} or {@code label=weight,...}; children (the pom's per-label form) win over the text. */
    static String spec(PlexusConfiguration configuration, ExpressionEvaluator evaluator) throws MojoExecutionException {
        if (configuration == null) {
            return ClassWeights.NONE;
        }
        if (configuration.getChildCount() > 0) {
            List<String> pairs = new ArrayList<>();
            for (PlexusConfiguration label : configuration.getChildren()) {
                pairs.add(label.getName() + "=" + evaluate(label.getValue(), evaluator));
            }
            return String.join(",", pairs);
        }
        String value = evaluate(configuration.getValue(), evaluator);
        return value == null || value.isBlank() ? ClassWeights.NONE : value.strip();
    }

    private static String evaluate(String text, ExpressionEvaluator evaluator) throws MojoExecutionException {
        if (text == null) {
            return null;
        }
        try {
            Object value = evaluator.evaluate(text);
            return value == null ? null : value.toString();
        } catch (ExpressionEvaluationException e) {
            throw new MojoExecutionException("classWeights: cannot evaluate '" + text + "': " + e.getMessage(), e);
        }
    }
}
