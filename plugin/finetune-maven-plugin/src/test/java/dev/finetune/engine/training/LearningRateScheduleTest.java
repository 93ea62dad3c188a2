package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LearningRateScheduleTest {
    @Test
    void warmsUpLinearlyThenDecaysToZero() {
        LearningRateSchedule s = LearningRateSchedule.of(1e-3, 100, 0.1, "linear");
        assertEquals(10, s.warmupSteps());
        assertEquals(1e-4, s.rate(0), 1e-12);
        assertEquals(1e-3, s.rate(9), 1e-12);
        assertEquals(1e-3, s.rate(10), 1e-12);
        assertEquals(0.5e-3, s.rate(55), 1e-12);
        assertEquals(1e-3 / 90, s.rate(99), 1e-12);
    }

    @Test
    void cosineAndConstant() {
        LearningRateSchedule cos = LearningRateSchedule.of(2.0, 10, 0.0, "cosine");
        assertEquals(2.0, cos.rate(0), 1e-12);
        assertEquals(1.0, cos.rate(5), 1e-12);
        assertEquals(3.0, LearningRateSchedule.of(3.0, 10, 0.2, "constant").rate(7), 1e-12);
    }
}
