package dev.finetune.engine.report;

import java.util.List;
import java.util.Locale;

/** Inline SVG charts for the HTML report: drawn here, so the page needs no script and no network to view. */
final class Svg {
    private static final String[] COLORS = {"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c"};

    private Svg() {
    }

    /** One named series of (x, y) points; {@code dots} draws markers (for few points, as per-epoch metrics). */
    record Series(String name, double[] x, double[] y, boolean dots) {
    }

    /** A line chart with axes, five ticks on each, and a legend. */
    static String lineChart(String title, String xLabel, List<Series> series, int width, int height) {
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.y()[i])) {
                    minX = Math.min(minX, s.x()[i]);
                    maxX = Math.max(maxX, s.x()[i]);
                    minY = Math.min(minY, s.y()[i]);
                    maxY = Math.max(maxY, s.y()[i]);
                }
            }
        }
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg class=\"chart\" role=\"img\" aria-label=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">",
                Html.escape(title), width, height, width, height));
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"16\" class=\"title\">%s</text>", 8, Html.escape(title)));
        if (!Double.isFinite(minX)) {
            return b.append("<text x=\"20\" y=\"60\">no data</text></svg>").toString();
        }
        if (maxY == minY) {
            maxY += 0.5;
            minY -= 0.5;
        }
        if (maxX == minX) {
            maxX += 1;
        }
        Frame frame = frame(b, xLabel, minX, maxX, minY, maxY, width, height);
        java.util.function.DoubleUnaryOperator px = frame.px();
        java.util.function.DoubleUnaryOperator py = frame.py();
        double left = frame.left();
        double w = frame.w();
        int top = frame.top();
        for (int s = 0; s < series.size(); s++) {
            Series sr = series.get(s);
            String color = COLORS[s % COLORS.length];
            StringBuilder points = new StringBuilder();
            for (int i = 0; i < sr.x().length; i++) {
                if (Double.isFinite(sr.y()[i])) {
                    points.append(String.format(Locale.ROOT, "%.1f,%.1f ", px.applyAsDouble(sr.x()[i]), py.applyAsDouble(sr.y()[i])));
                    if (sr.dots()) {
                        b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", px.applyAsDouble(sr.x()[i]), py.applyAsDouble(sr.y()[i]), color));
                    }
                }
            }
            b.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"%s\"/>", color, points.toString().trim()));
            b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%.1f\" y=\"%d\" class=\"legend\">%s</text>",
                    left + w - 150.0, top + 6 + 15 * s, color, left + w - 136.0, top + 15 + 15 * s, Html.escape(sr.name())));
        }
        return b.append("</svg>").toString();
    }

    /**
     * A scatter plot of (x, y) with a reference line: {@code y = x} when {@code identity} (predicted against true: points
     * on it are exact), else {@code y = 0} (residuals: points on it are exact). Both axes share one range for the identity.
     */
    static String scatter(String title, String xLabel, double[] x, double[] y, boolean identity, int width, int height) {
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < x.length; i++) {
            if (Double.isFinite(x[i]) && Double.isFinite(y[i])) {
                minX = Math.min(minX, x[i]);
                maxX = Math.max(maxX, x[i]);
                minY = Math.min(minY, y[i]);
                maxY = Math.max(maxY, y[i]);
            }
        }
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg class=\"chart\" role=\"img\" aria-label=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">",
                Html.escape(title), width, height, width, height));
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"16\" class=\"title\">%s</text>", 8, Html.escape(title)));
        if (!Double.isFinite(minX)) {
            return b.append("<text x=\"20\" y=\"60\">no data</text></svg>").toString();
        }
        if (identity) {
            minX = minY = Math.min(minX, minY);
            maxX = maxY = Math.max(maxX, maxY);
        } else {
            double m = Math.max(Math.abs(minY), Math.abs(maxY));
            minY = -m;
            maxY = m;
        }
        if (maxY == minY) {
            maxY += 0.5;
            minY -= 0.5;
        }
        if (maxX == minX) {
            maxX += 0.5;
            minX -= 0.5;
        }
        Frame frame = frame(b, xLabel, minX, maxX, minY, maxY, width, height);
        java.util.function.DoubleUnaryOperator px = frame.px();
        java.util.function.DoubleUnaryOperator py = frame.py();
        double x0 = minX;
        double x1 = maxX;
        double ya = identity ? x0 : 0;
        double yb = identity ? x1 : 0;
        b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>",
                px.applyAsDouble(x0), px.applyAsDouble(x1), py.applyAsDouble(ya), py.applyAsDouble(yb), COLORS[1]));
        for (int i = 0; i < x.length; i++) {
            if (Double.isFinite(x[i]) && Double.isFinite(y[i])) {
                b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\" fill-opacity=\"0.55\"/>",
                        px.applyAsDouble(x[i]), py.applyAsDouble(y[i]), COLORS[0]));
            }
        }
        return b.append("</svg>").toString();
    }

    /** Where a chart's plot area is, and how values map onto it. */
    private record Frame(int left, int top, double w, double h, java.util.function.DoubleUnaryOperator px,
                         java.util.function.DoubleUnaryOperator py) {
    }

    /** The plot area, grid, five ticks on each axis and the x-axis label of a chart over the given ranges. */
    private static Frame frame(StringBuilder b, String xLabel, double x0, double x1, double y0, double y1, int width, int height) {
        int left = 56, right = 12, top = 28, bottom = 38;
        double w = width - left - right, h = height - top - bottom;
        java.util.function.DoubleUnaryOperator px = x -> left + (x - x0) / (x1 - x0) * w;
        java.util.function.DoubleUnaryOperator py = y -> top + h - (y - y0) / (y1 - y0) * h;
        b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" class=\"plot\"/>", left, top, w, h));
        for (int t = 0; t <= 4; t++) {
            double yv = y0 + (y1 - y0) * t / 4;
            double xv = x0 + (x1 - x0) * t / 4;
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", left, left + w, py.applyAsDouble(yv), py.applyAsDouble(yv)));
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%s</text>", left - 4, py.applyAsDouble(yv) + 4, tick(yv, y1 - y0)));
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%s</text>", px.applyAsDouble(xv), top + h + 14, tick(xv, x1 - x0)));
        }
        b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" class=\"axis\" text-anchor=\"middle\">%s</text>", left + w / 2, height - 4, Html.escape(xLabel)));
        return new Frame(left, top, w, h, px, py);
    }

    /** The confusion matrix as a heat map: rows are true labels, columns predictions, shade by row share. */
    static String confusionMatrix(List<String> labels, int[][] m) {
        int k = labels.size();
        int cell = k <= 6 ? 64 : Math.max(24, 384 / k);
        int left = 120, top = 60;
        int width = left + k * cell + 20, height = top + k * cell + 20;
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
                "<svg class=\"confusion\" role=\"img\" aria-label=\"confusion matrix\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">",
                width, height, width, height));
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"14\" class=\"axis\" text-anchor=\"middle\">predicted</text>", left + k * cell / 2));
        b.append(String.format(Locale.ROOT, "<text x=\"12\" y=\"%d\" class=\"axis\" transform=\"rotate(-90 12 %d)\" text-anchor=\"middle\">true</text>", top + k * cell / 2, top + k * cell / 2));
        for (int j = 0; j < k; j++) {
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%s</text>", left + j * cell + cell / 2, top - 8, Html.escape(shorten(labels.get(j)))));
        }
        for (int i = 0; i < k; i++) {
            int row = 0;
            for (int v : m[i]) {
                row += v;
            }
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%s</text>", left - 6, top + i * cell + cell / 2 + 4, Html.escape(shorten(labels.get(i)))));
            for (int j = 0; j < k; j++) {
                double share = row == 0 ? 0 : (double) m[i][j] / row;
                String fill = String.format(Locale.ROOT, "rgb(%d,%d,%d)", (int) (239 - share * 202), (int) (246 - share * 147), (int) (255 - share * 20));
                b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#fff\"><title>true %s, predicted %s: %d</title></rect>",
                        left + j * cell, top + i * cell, cell, cell, fill, Html.escape(labels.get(i)), Html.escape(labels.get(j)), m[i][j]));
                b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"%s\">%d</text>",
                        left + j * cell + cell / 2, top + i * cell + cell / 2 + 5, share > 0.55 ? "cell light" : "cell", m[i][j]));
            }
        }
        return b.append("</svg>").toString();
    }

    private static String shorten(String s) {
        return s.length() > 14 ? s.substring(0, 13) + "…" : s;
    }

    /** A tick label with as many decimals as the axis range needs to tell its five ticks apart. */
    static String tick(double v, double range) {
        double a = Math.max(Math.abs(v), range);
        if (a != 0 && (a < 1e-3 || a >= 1e6)) {
            return String.format(Locale.ROOT, "%.2e", v);
        }
        int decimals = range <= 0 ? 3 : Math.max(0, Math.min(8, (int) Math.ceil(-Math.log10(range / 4)) + 1));
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
