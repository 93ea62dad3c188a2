package dev.finetune.runtime.model;

import dev.finetune.runtime.FineTuneException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GPUOptions;

/**
 * Where TensorFlow runs: {@code auto} (a GPU when TensorFlow sees one, else the CPU), {@code cpu}, or {@code gpu:N}.
 * A GPU needs the {@code linux-x86_64-gpu} native build on the class path and CUDA 12.5 / cuDNN 9.3 on the machine.
 */
public final class Devices {
    private static final Pattern GPU = Pattern.compile("gpu(?::(\\d+))?");

    private Devices() {
    }

    /** A problem with the device setting, or null. */
    public static String problem(String device) {
        if (device == null || device.equals("auto") || device.equals("cpu") || GPU.matcher(device).matches()) {
            return null;
        }
        return "device '" + device + "' is unknown: use auto, cpu or gpu:N (N the GPU's index, from 0).";
    }

    /** Session options for {@code device}; fails with a clear message when a GPU is asked for and not visible. */
    public static ConfigProto.Builder configure(ConfigProto.Builder config, String device) {
        if (device == null || device.equals("auto")) {
            return config;
        }
        if (device.equals("cpu")) {
            return config.putDeviceCount("GPU", 0);
        }
        Matcher m = GPU.matcher(device);
        if (!m.matches()) {
            throw new FineTuneException(problem(device));
        }
        int index = m.group(1) == null ? 0 : Integer.parseInt(m.group(1));
        int visible = visibleGpus();
        if (index >= visible) {
            throw new FineTuneException("device " + device + " was asked for, but TensorFlow sees " + (visible == 0 ? "no GPU"
                    : visible + " GPU" + (visible > 1 ? "s" : "") + " (gpu:0 to gpu:" + (visible - 1) + ")")
                    + ". A GPU needs the linux-x86_64-gpu native build of TensorFlow Java (build with -Pgpu) and CUDA 12.5 with "
                    + "cuDNN 9.3 on the machine; or use <device>auto</device> or cpu.");
        }
        return config.setGpuOptions(GPUOptions.newBuilder().setVisibleDeviceList(String.valueOf(index)).setAllowGrowth(true));
    }

    /** How many GPUs TensorFlow can place an op on (0 with the CPU build). */
    public static int visibleGpus() {
        int n = 0;
        while (n < 16 && canPlaceOn("/device:GPU:" + n)) {
            n++;
        }
        return n;
    }

    /** A description of where ops run, for the log. */
    public static String describe(String device) {
        if (device != null && device.startsWith("gpu")) {
            return device.toUpperCase();
        }
        int gpus = device != null && device.equals("cpu") ? 0 : visibleGpus();
        return gpus > 0 ? "GPU:0 (" + gpus + " visible)" : "CPU (" + Runtime.getRuntime().availableProcessors() + " cores)";
    }

    private static boolean canPlaceOn(String device) {
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            var c = tf.withDevice(org.tensorflow.DeviceSpec.newBuilder().deviceType(org.tensorflow.DeviceSpec.DeviceType.GPU)
                    .deviceIndex(Integer.parseInt(device.substring(device.lastIndexOf(':') + 1))).build()).constant(1f);
            try (Session s = new Session(g, ConfigProto.newBuilder().setAllowSoftPlacement(false).build())) {
                s.runner().fetch(c).run().close();
                return true;
            }
        } catch (RuntimeException e) {
            return false;
        }
    }
}
