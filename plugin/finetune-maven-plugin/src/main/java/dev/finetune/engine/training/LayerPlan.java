package dev.finetune.engine.training;

import dev.finetune.runtime.model.ModelException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which encoder variables train, and at what share of the learning rate. Layers are told apart by the index in
 * the variable names ({@code layer_11}, {@code layer.11}, {@code encoder_layer_1_...}); variables without one are
 * the embeddings (below every layer) or, when their name says so, the pooler (on top, with the head).
 * <ul>
 *   <li>{@code trainLayers} -1: everything trains; 0: only the head; N: the head, the pooler and the top N layers.</li>
 *   <li>Layer-wise decay d: a layer k below the top of L layers gets d^(L - k) of the rate, the embeddings
 *       d^(L + 1); the head and the pooler get the full rate.</li>
 * </ul>
 */
public final class LayerPlan {
    private static final Pattern LAYER = Pattern.compile("layer[_./-]*(\\d+)", Pattern.CASE_INSENSITIVE);

    private final boolean[] trainable;
    private final double[] multiplier;
    private final int layers;

    private LayerPlan(boolean[] trainable, double[] multiplier, int layers) {
        this.trainable = trainable;
        this.multiplier = multiplier;
        this.layers = layers;
    }

    public static LayerPlan of(List<String> encoderKeys, int trainLayers, double decay) {
        int n = encoderKeys.size();
        int[] index = new int[n];
        int layers = 0;
        for (int i = 0; i < n; i++) {
            index[i] = layerIndex(encoderKeys.get(i));
            layers = Math.max(layers, index[i] + 1);
        }
        if (layers == 0 && (trainLayers > 0 || decay != 1.0)) {
            throw new ModelException("Cannot tell the encoder's layers apart: no variable name has a layer number "
                    + "(like layer_3). Train all layers (trainLayers all) without layer-wise decay, or only the head.");
        }
        boolean[] trainable = new boolean[n];
        double[] multiplier = new double[n];
        for (int i = 0; i < n; i++) {
            boolean pooler = index[i] < 0 && encoderKeys.get(i).toLowerCase(Locale.ROOT).contains("pool");
            int depth = pooler ? 0 : index[i] < 0 ? layers + 1 : layers - index[i];
            multiplier[i] = Math.pow(decay, depth);
            trainable[i] = trainLayers < 0 || (trainLayers > 0 && (pooler || (index[i] >= 0 && index[i] >= layers - trainLayers)));
        }
        return new LayerPlan(trainable, multiplier, layers);
    }

    static int layerIndex(String key) {
        Matcher m = LAYER.matcher(key);
        int found = -1;
        while (m.find()) {
            found = Integer.parseInt(m.group(1));
        }
        return found;
    }

    public boolean trainable(int encoderVariable) {
        return trainable[encoderVariable];
    }

    public double multiplier(int encoderVariable) {
        return multiplier[encoderVariable];
    }

    public int layers() {
        return layers;
    }

    /** The keys of the variables that train, for the log. */
    public List<String> trainableKeys(List<String> keys) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            if (trainable[i]) {
                out.add(keys.get(i));
            }
        }
        return out;
    }
}
