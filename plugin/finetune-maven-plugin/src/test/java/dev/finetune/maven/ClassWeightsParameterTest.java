package dev.finetune.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.util.Map;
import org.codehaus.plexus.component.configurator.expression.ExpressionEvaluator;
import org.codehaus.plexus.configuration.PlexusConfiguration;
import org.codehaus.plexus.configuration.xml.XmlPlexusConfiguration;
import org.junit.jupiter.api.Test;

/**
 * Both pom forms of classWeights, and the property, become the one text form. The configuration is built as Maven
 * hands it over: an unset parameter with a property holds the unevaluated expression {@code ${finetune.classWeights}}.
 */
class ClassWeightsParameterTest {
    /** Evaluates ${name} from {@code properties} (null when unset, as Maven's evaluator does); other text stays. */
    private static ExpressionEvaluator evaluator(Map<String, String> properties) {
        return new ExpressionEvaluator() {
            @Override
            public Object evaluate(String expression) {
                if (expression.startsWith("${") && expression.endsWith("}")) {
                    return properties.get(expression.substring(2, expression.length() - 1));
                }
                return expression;
            }

            @Override
            public File alignToBaseDirectory(File file) {
                return file;
            }
        };
    }

    private static PlexusConfiguration element(String value) {
        XmlPlexusConfiguration c = new XmlPlexusConfiguration("classWeights");
        c.setValue(value);
        return c;
    }

    @Test
    void aWordFromThePomOrTheProperty() throws Exception {
        assertEquals("auto", ClassWeightsParameter.spec(element("auto"), evaluator(Map.of())));
        assertEquals("auto", ClassWeightsParameter.spec(element("${finetune.classWeights}"), evaluator(Map.of("finetune.classWeights", "auto"))));
        assertEquals("spam=3,ham=1", ClassWeightsParameter.spec(element("${finetune.classWeights}"),
                evaluator(Map.of("finetune.classWeights", "spam=3,ham=1"))));
        assertEquals("none", ClassWeightsParameter.spec(element("${finetune.classWeights}"), evaluator(Map.of())), "unset");
        assertEquals("none", ClassWeightsParameter.spec(null, evaluator(Map.of())));
    }

    @Test
    void aWeightPerLabelFromThePomWinsOverTheProperty() throws Exception {
        // Maven merges the pom's children into the descriptor's element, which keeps the property expression as its text.
        PlexusConfiguration c = element("${finetune.classWeights}");
        c.addChild("spam", "3.0");
        c.addChild("ham", "${hamWeight}");
        assertEquals("spam=3.0,ham=0.5", ClassWeightsParameter.spec(c, evaluator(Map.of("finetune.classWeights", "auto", "hamWeight", "0.5"))));
    }
}
