package dev.finetune.engine.data;

import dev.finetune.runtime.encoding.LabeledText;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The targets of a regression: each example's label read as a number. Only plain decimal notation with a {@code .}
 * is accepted ({@code 3}, {@code -0.5}, {@code 1e-3}), whatever the locale, so that a file means the same on every
 * machine; {@code 3,5} from a spreadsheet saved in a comma-decimal locale is an error rather than 35 or 3. NaN and
 * infinities are refused: one of them makes the loss, and so every weight, NaN.
 */
public final class RegressionTargets {
    private static final Pattern NUMBER = Pattern.compile("[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?");
    private static final Pattern NOT_FINITE = Pattern.compile("[+-]?(?:nan|inf|infinity)", Pattern.CASE_INSENSITIVE);

    private RegressionTargets() {
    }

    /**
     * Every example's label as a number; {@code column} names the label column in messages. A label that is not a
     * finite number is an error naming file, line and column.
     */
    public static double[] of(List<LabeledText> examples, Path file, String column) {
        double[] out = new double[examples.size()];
        for (int i = 0; i < out.length; i++) {
            LabeledText e = examples.get(i);
            out[i] = parse(e.label(), file, e.line(), column);
        }
        return out;
    }

    /** {@code label} as a number; anything else is an error naming file, line and column. */
    public static double parse(String label, Path file, long line, String column) {
        if (label == null) {
            throw DataException.at(file, line, column, "the field is missing.");
        }
        String s = label.strip();
        if (NUMBER.matcher(s).matches()) {
            double d = Double.parseDouble(s);
            if (Double.isFinite(d)) {
                return d;
            }
        } else if (!NOT_FINITE.matcher(s).matches()) {
            throw DataException.at(file, line, column, "expected a number, found '" + label + "'"
                    + (s.contains(",") ? " (decimals are written with '.', without thousands separators)." : "."));
        }
        throw DataException.at(file, line, column, "expected a finite number, found '" + label + "'.");
    }
}
