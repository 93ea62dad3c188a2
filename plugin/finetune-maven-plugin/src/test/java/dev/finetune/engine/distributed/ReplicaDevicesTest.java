package dev.finetune.engine.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.runtime.FineTuneException;
import java.util.List;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;

/** How {@code devices} resolves against the GPUs TensorFlow sees, and how a bad value is reported. */
class ReplicaDevicesTest {
    private static IntSupplier gpus(int n) {
        return () -> n;
    }

    /** A probe that must not run: the answer does not depend on GPUs. */
    private static final IntSupplier NO_PROBE = () -> {
        throw new AssertionError("GPUs probed although the answer does not depend on them");
    };

    @Test
    void autoIsEveryGpuWhenThereAreSeveralElseOneDeviceAsToday() {
        assertEquals(ReplicaDevices.SINGLE, ReplicaDevices.resolve("auto", "auto", gpus(0)));
        assertEquals(ReplicaDevices.SINGLE, ReplicaDevices.resolve("auto", "auto", gpus(1)));
        assertEquals(new ReplicaDevices(List.of("/device:GPU:0", "/device:GPU:1", "/device:GPU:2"), 0),
                ReplicaDevices.resolve("auto", "auto", gpus(3)));
        // One device asked for by <device>: auto stays one replica, without probing.
        assertEquals(ReplicaDevices.SINGLE, ReplicaDevices.resolve("auto", "cpu", NO_PROBE));
        assertEquals(ReplicaDevices.SINGLE, ReplicaDevices.resolve(null, "gpu:1", NO_PROBE));
    }

    @Test
    void aNumberIsThatManyGpusOrCpuDevices() {
        assertEquals(ReplicaDevices.SINGLE, ReplicaDevices.resolve("1", "auto", NO_PROBE));
        ReplicaDevices cpus = ReplicaDevices.resolve("2", "auto", gpus(0));
        assertEquals(new ReplicaDevices(List.of("/device:CPU:0", "/device:CPU:1"), 2), cpus);
        assertEquals("2 replicas on CPU:0, CPU:1 (2 logical CPU devices sharing the cores)", cpus.describe());
        assertEquals(cpus, ReplicaDevices.resolve("2", "cpu", NO_PROBE));
        assertEquals(new ReplicaDevices(List.of("/device:GPU:0", "/device:GPU:1"), 0), ReplicaDevices.resolve("2", "auto", gpus(4)));
        FineTuneException e = assertThrows(FineTuneException.class, () -> ReplicaDevices.resolve("3", "auto", gpus(2)));
        assertEquals("devices 3 asks for 3 GPUs, but TensorFlow sees 2 GPUs (GPU:0 to GPU:1): use devices 2 or auto, or device "
                + "cpu for 3 CPU devices.", e.getMessage());
    }

    @Test
    void aListNamesTheDevices() {
        assertEquals(new ReplicaDevices(List.of("/device:CPU:0", "/device:CPU:2"), 3),
                ReplicaDevices.resolve("CPU:0, cpu:2", "auto", NO_PROBE));
        assertEquals(new ReplicaDevices(List.of("/device:GPU:1", "/device:GPU:0"), 0),
                ReplicaDevices.resolve("/device:GPU:1,GPU:0", "auto", gpus(2)));
        FineTuneException e = assertThrows(FineTuneException.class, () -> ReplicaDevices.resolve("GPU:0,GPU:1", "auto", gpus(0)));
        assertTrue(e.getMessage().startsWith("devices 'GPU:0,GPU:1' names GPU:1, but TensorFlow sees no GPU."), e.getMessage());
    }

    @Test
    void badValuesAreReportedWithTheOtherProblems() {
        FineTuneConfig c = TestFiles.unreadConfig();
        for (String[] bad : new String[][] {
                {"0", "auto", "devices must be auto, a number of devices from 1, or a list such as GPU:0,GPU:1; not 0."},
                {"GPU:0,TPU:1", "auto", "devices 'GPU:0,TPU:1' is not auto, a number, or a list of devices such as GPU:0,GPU:1 or "
                        + "CPU:0,CPU:1 ('TPU:1' is not a device)."},
                {"GPU:0,GPU:0", "auto", "devices 'GPU:0,GPU:0' names GPU:0 twice."},
                {"GPU:1", "auto", "devices 'GPU:1' names one device: list two or more, or choose the one device with <device> "
                        + "(cpu or gpu:N)."},
                {"CPU:0,GPU:0", "auto", "devices 'CPU:0,GPU:0' mixes CPU and GPU devices: list GPUs only or CPU devices only."},
                {"GPU:0,GPU:1", "cpu", "devices 'GPU:0,GPU:1' lists GPUs, but device is cpu: set device to auto."},
                {"2", "gpu:1", "devices 2 cannot be combined with device gpu:1 (one GPU): set device to auto (GPUs) or cpu (CPU devices)."}}) {
            c.devices = bad[0];
            c.device = bad[1];
            assertEquals(List.of(bad[2]), c.problems(), bad[0] + " with device " + bad[1]);
            assertThrows(FineTuneException.class, () -> c.replicaDevices(NO_PROBE));
        }
        c.devices = "CPU:0,CPU:1";
        c.device = "cpu";
        assertEquals(List.of(), c.problems());
    }
}
