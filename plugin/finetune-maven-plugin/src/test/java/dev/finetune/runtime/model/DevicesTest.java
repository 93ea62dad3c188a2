package dev.finetune.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.finetune.runtime.FineTuneException;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.ConfigProto;

class DevicesTest {
    @Test
    void validatesTheSetting() {
        for (String ok : new String[] {"auto", "cpu", "gpu", "gpu:0", "gpu:3"}) {
            assertNull(Devices.problem(ok), ok);
        }
        for (String bad : new String[] {"tpu", "gpu:", "gpu:x", "GPU:0", "cuda"}) {
            assertTrue(Devices.problem(bad).startsWith("device '" + bad + "' is unknown"), bad);
        }
    }

    @Test
    void cpuHidesGpus() {
        assertEquals(0, Devices.configure(ConfigProto.newBuilder(), "cpu").getDeviceCountOrThrow("GPU"));
    }

    @Test
    void aGpuThatIsNotThereIsAClearError() {
        int visible = Devices.visibleGpus();
        FineTuneException e = assertThrows(FineTuneException.class, () -> Devices.configure(ConfigProto.newBuilder(), "gpu:" + visible));
        assertTrue(e.getMessage().contains("TensorFlow sees " + (visible == 0 ? "no GPU" : visible + " GPU")), e.getMessage());
        assumeTrue(visible == 0, "this machine has a GPU");
        assertTrue(e.getMessage().contains("linux-x86_64-gpu") && e.getMessage().contains("CUDA 12.5"), e.getMessage());
        assertTrue(Devices.describe("auto").startsWith("CPU ("), Devices.describe("auto"));
    }
}
