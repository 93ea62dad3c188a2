package dev.finetune.engine.distributed;

import dev.finetune.runtime.FineTuneException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.IntSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The devices one worker splits each step over, one replica of the training step on each (the {@code devices}
 * setting): {@code auto} (every GPU TensorFlow sees when it sees two or more, else one device as TensorFlow places
 * it), a number N (N GPUs, or N CPU devices when there is no GPU or {@code device} is {@code cpu}), or a list such as
 * {@code GPU:0,GPU:1} or {@code CPU:0,CPU:1}. CPU replicas are TensorFlow's logical CPU devices ({@code device_count}),
 * which share the machine's cores: they exist to check the replica logic without a GPU, not to train faster.
 *
 * @param names      the devices in TensorFlow's notation ({@code /device:GPU:1}); empty: one replica, not placed
 * @param cpuDevices how many CPU devices the session must create (0: TensorFlow's default of one)
 */
public record ReplicaDevices(List<String> names, int cpuDevices) {
    public static final ReplicaDevices SINGLE = new ReplicaDevices(List.of(), 0);
    private static final Pattern ENTRY = Pattern.compile("(?:/device:|/)?(cpu|gpu):(\\d+)");
    private static final Pattern ONE_GPU = Pattern.compile("gpu(:\\d+)?");

    public ReplicaDevices {
        names = List.copyOf(names);
    }

    public int count() {
        return Math.max(1, names.size());
    }

    /** A problem with {@code devices} (and {@code device}, the single-device setting), or null; no device is probed. */
    public static String problem(String devices, String device) {
        String d = normalize(devices);
        if (d.equals("auto")) {
            return null;
        }
        String oneGpu = device != null && ONE_GPU.matcher(device).matches() ? device : null;
        if (d.matches("\\d{1,4}")) {
            int n = Integer.parseInt(d);
            if (n < 1) {
                return "devices must be auto, a number of devices from 1, or a list such as GPU:0,GPU:1; not " + devices.strip() + ".";
            }
            return n > 1 && oneGpu != null ? "devices " + n + " cannot be combined with device " + device + " (one GPU): set device "
                    + "to auto (GPUs) or cpu (CPU devices)." : null;
        }
        List<Matcher> entries = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        for (String e : devices.strip().split(",")) {
            Matcher m = ENTRY.matcher(e.strip().toLowerCase(Locale.ROOT));
            if (!m.matches()) {
                return "devices '" + devices.strip() + "' is not auto, a number, or a list of devices such as GPU:0,GPU:1 or "
                        + "CPU:0,CPU:1 ('" + e.strip() + "' is not a device).";
            }
            if (!seen.add(m.group(1) + ":" + Integer.parseInt(m.group(2)))) {
                return "devices '" + devices.strip() + "' names " + e.strip().toUpperCase(Locale.ROOT) + " twice.";
            }
            entries.add(m);
        }
        if (entries.size() < 2) {
            return "devices '" + devices.strip() + "' names one device: list two or more, or choose the one device with <device> "
                    + "(cpu or gpu:N).";
        }
        String type = entries.get(0).group(1);
        if (entries.stream().anyMatch(m -> !m.group(1).equals(type))) {
            return "devices '" + devices.strip() + "' mixes CPU and GPU devices: list GPUs only or CPU devices only.";
        }
        if (type.equals("gpu") && "cpu".equals(device)) {
            return "devices '" + devices.strip() + "' lists GPUs, but device is cpu: set device to auto.";
        }
        if (oneGpu != null) {
            return "devices '" + devices.strip() + "' cannot be combined with device " + device + " (one GPU): set device to auto.";
        }
        return null;
    }

    /**
     * The replicas' devices; {@code visibleGpus} (probed only when GPUs are in question) is how many GPUs TensorFlow
     * sees. Fails naming what is visible when more GPUs are asked for.
     */
    public static ReplicaDevices resolve(String devices, String device, IntSupplier visibleGpus) {
        String problem = problem(devices, device);
        if (problem != null) {
            throw new FineTuneException(problem);
        }
        String d = normalize(devices);
        boolean cpuOnly = "cpu".equals(device);
        boolean oneDevice = cpuOnly || (device != null && ONE_GPU.matcher(device).matches());
        if (d.equals("auto")) {
            int gpus = oneDevice ? 0 : visibleGpus.getAsInt();
            return gpus > 1 ? of("GPU", gpus) : SINGLE;
        }
        if (d.matches("\\d+")) {
            int n = Integer.parseInt(d);
            if (n == 1) {
                return SINGLE;
            }
            int gpus = cpuOnly ? 0 : visibleGpus.getAsInt();
            if (gpus == 0) {
                return of("CPU", n);
            }
            if (n > gpus) {
                throw new FineTuneException("devices " + n + " asks for " + n + " GPUs, but TensorFlow sees " + visible(gpus)
                        + ": use devices " + gpus + " or auto, or device cpu for " + n + " CPU devices.");
            }
            return of("GPU", n);
        }
        List<String> names = new ArrayList<>();
        int highest = -1;
        boolean gpu = false;
        for (String e : d.split(",")) {
            Matcher m = ENTRY.matcher(e.strip());
            m.matches();
            gpu = m.group(1).equals("gpu");
            int index = Integer.parseInt(m.group(2));
            highest = Math.max(highest, index);
            names.add("/device:" + m.group(1).toUpperCase(Locale.ROOT) + ":" + index);
        }
        if (gpu) {
            int gpus = visibleGpus.getAsInt();
            if (highest >= gpus) {
                throw new FineTuneException("devices '" + devices.strip() + "' names GPU:" + highest + ", but TensorFlow sees "
                        + visible(gpus) + ". A GPU needs the linux-x86_64-gpu native build of TensorFlow Java (build with -Pgpu) "
                        + "and CUDA 12.5 with cuDNN 9.3 on the machine.");
            }
            return new ReplicaDevices(names, 0);
        }
        return new ReplicaDevices(names, highest + 1);
    }

    /** One line for the log. */
    public String describe() {
        return names.isEmpty() ? "one replica" : count() + " replicas on " + String.join(", ", names.stream()
                .map(n -> n.substring("/device:".length())).toList()) + (cpuDevices > 0 ? " (" + cpuDevices + " logical CPU devices "
                + "sharing the cores)" : "");
    }

    private static ReplicaDevices of(String type, int n) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            names.add("/device:" + type + ":" + i);
        }
        return new ReplicaDevices(names, type.equals("CPU") ? n : 0);
    }

    private static String visible(int gpus) {
        return gpus == 0 ? "no GPU" : gpus + " GPU" + (gpus > 1 ? "s" : "") + " (GPU:0" + (gpus > 1 ? " to GPU:" + (gpus - 1) : "") + ")";
    }

    private static String normalize(String devices) {
        return devices == null || devices.isBlank() ? "auto" : devices.strip().toLowerCase(Locale.ROOT);
    }
}
