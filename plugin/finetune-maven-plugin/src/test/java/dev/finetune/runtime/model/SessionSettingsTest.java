package dev.finetune.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RewriterConfig;

class SessionSettingsTest {
    @Test
    void bfloat16TurnsOnTheOneDnnMixedPrecisionRewrite() {
        ConfigProto c = new SessionSettings("cpu", 2, 1, "bfloat16", false).config();
        assertEquals(RewriterConfig.Toggle.ON, c.getGraphOptions().getRewriteOptions().getAutoMixedPrecisionOnednnBfloat16());
        assertEquals(2, c.getIntraOpParallelismThreads());
        assertEquals(1, c.getInterOpParallelismThreads());
        assertEquals(0, c.getDeviceCountOrDefault("GPU", -1));
    }

    /** CPU replicas get that many logical CPU devices, which keep the process's thread count (one shared pool). */
    @Test
    void cpuDevicesForReplicas() {
        SessionSettings settings = new SessionSettings("auto", 2, 1, "auto", false).withCpuDevices(3);
        ConfigProto c = settings.config();
        assertEquals(3, c.getDeviceCountOrDefault("CPU", -1));
        assertEquals(2, c.getIntraOpParallelismThreads());
        assertEquals(3, settings.resolved().cpuDevices());
        assertFalse(new SessionSettings("auto", 2, 1, "auto", false).config().containsDeviceCount("CPU"));
    }

    @Test
    void float32AndXla() {
        ConfigProto c = new SessionSettings("cpu", 0, 0, "float32", true).config();
        assertFalse(c.getGraphOptions().hasRewriteOptions());
        assertEquals(OptimizerOptions.GlobalJitLevel.ON_1, c.getGraphOptions().getOptimizerOptions().getGlobalJitLevel());
        assertTrue(c.getGraphOptions().getOptimizerOptions().getCpuGlobalJit());
    }

    @Test
    void autoFollowsTheCpu() {
        String expected = SessionSettings.cpuHasNativeBfloat16() ? "bfloat16" : "float32";
        assertEquals(expected, new SessionSettings("cpu", 0, 0, "auto", false).effectivePrecision());
        SessionSettings resolved = new SessionSettings("cpu", 2, 1, "auto", true).resolved();
        assertEquals(new SessionSettings("cpu", 2, 1, expected, true), resolved);
        assertEquals(resolved.config(), new SessionSettings("cpu", 2, 1, "auto", true).config());
    }

    @Test
    void unknownPrecisionIsAProblem() {
        assertNull(SessionSettings.precisionProblem("auto"));
        assertTrue(SessionSettings.precisionProblem("fp16").contains("auto, float32 or bfloat16"));
    }
}
